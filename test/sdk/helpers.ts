/**
 * Builds the SDK test plugins (test/sdk/plugins/<name>) with the same compiler and flags as
 * every plugin (cli/compile.ts). The .wasm is cached in the OS temp dir under a hash of the
 * SDK, the plugin source and the compiler settings, so the test files (separate processes)
 * share one compile instead of each paying several seconds.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePlugin, ascFlags } from '../../cli/compile.js';
import { PACKAGE_ROOT } from '../../spec/index.js';

const built = new Map<string, Promise<string>>();

function hashTree(h: ReturnType<typeof createHash>, dir: string): void {
  for (const e of readdirSync(dir).sort()) {
    if (e === 'build' || e === 'node_modules') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) hashTree(h, p);
    else h.update(p).update(readFileSync(p));
  }
}

async function build(name: string): Promise<string> {
  const dir = join(PACKAGE_ROOT, 'test', 'sdk', 'plugins', name);
  const h = createHash('sha256');
  hashTree(h, join(PACKAGE_ROOT, 'sdk'));
  hashTree(h, dir);
  h.update(JSON.stringify(ascFlags(false)));
  const cacheDir = join(tmpdir(), 'higress-plugin-sdk-tests');
  const cached = join(cacheDir, `${name}-${h.digest('hex').slice(0, 16)}.wasm`);
  if (existsSync(cached)) return cached;
  mkdirSync(cacheDir, { recursive: true });
  const outFile = join(mkdtempSync(join(tmpdir(), `sdk-${name}-`)), 'plugin.wasm');
  await compilePlugin({ dir, outFile });
  renameSync(outFile, cached); // atomic: a concurrent build of the same sources writes the same bytes
  return cached;
}

/** Path of the release .wasm of SDK test plugin `name`, compiled on first use. */
export function sdkTestPlugin(name: string): Promise<string> {
  let p = built.get(name);
  if (!p) {
    p = build(name);
    built.set(name, p);
  }
  return p;
}
