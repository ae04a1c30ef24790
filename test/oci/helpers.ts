/** Shared helpers of the OCI tests: a small WAT-built module, the fixture project, temp dirs, and a CLI runner. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../spec/index.js';

/** Folder of the raw-AssemblyScript fixture plugin project. */
export const MINI_DIR = join(PACKAGE_ROOT, 'test', 'oci', 'fixtures', 'mini');

let watModule: Promise<Buffer> | undefined;

/**
 * A small real proxy-wasm module assembled from WAT with wabt (ABI marker, `proxy_log` import,
 * allocator export): for tests about moving modules around, where compiling AssemblyScript
 * would only cost time.
 */
export function watPlugin(): Promise<Buffer> {
  watModule ??= (async () => {
    const wabt = await (await import('wabt')).default();
    const mod = wabt.parseWat('plugin.wat', `(module
      (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "wat plugin configured")
      (global $top (mut i32) (i32.const 1024))
      (func (export "proxy_abi_version_0_2_1"))
      (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
        (local $p i32)
        (local.set $p (global.get $top))
        (global.set $top (i32.add (global.get $top) (local.get $n)))
        (local.get $p))
      (func (export "proxy_on_context_create") (param i32 i32))
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
      (func (export "proxy_on_configure") (param i32 i32) (result i32)
        (drop (call $log (i32.const 2) (i32.const 16) (i32.const 21)))
        (i32.const 1)))`);
    return Buffer.from(mod.toBinary({}).buffer);
  })();
  return watModule;
}

const created: string[] = [];
process.once('exit', () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp dir, removed when the test process exits. */
export function tempDir(prefix = 'hp-oci-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

import { spawn } from 'node:child_process';
import { cpSync } from 'node:fs';

/** Result of a CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `higress-plugin <args>` as a child process (async, so in-process servers keep serving)
 * with HOME and DOCKER_CONFIG pointed at an empty temp dir unless `env` overrides them.
 */
export function cli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  const home = tempDir('hp-home-');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker'), HIGRESS_PLUGIN_REGISTRY_USERNAME: '', HIGRESS_PLUGIN_REGISTRY_PASSWORD: '', ...options.env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'higress-plugin.js'), ...args], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** A copy of the mini fixture project in a temp dir (builds write into it). */
export function miniProject(): string {
  const dir = join(tempDir('hp-proj-'), 'mini');
  cpSync(MINI_DIR, dir, { recursive: true, filter: (src) => !/[\\/](build|dist|node_modules)$/.test(src) });
  return dir;
}
