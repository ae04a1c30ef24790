import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePlugin, CompileError } from '../../cli/compile.js';
import { moduleImports } from '../examples/helpers.js';

function project(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sdk-compile-'));
  mkdirSync(join(dir, 'assembly'));
  writeFileSync(join(dir, 'assembly', 'index.ts'), source);
  return dir;
}

test('a compile error reports asc diagnostics with file and line', async () => {
  const dir = project('import { definePlugin } from "@higress-plugin/sdk";\nexport * from "@higress-plugin/sdk/exports";\nconst x: i32 = "text";\n');
  await assert.rejects(compilePlugin({ dir }), (err: Error) => {
    assert.ok(err instanceof CompileError);
    assert.equal((err as CompileError).code, 'HP_COMPILE_FAILED');
    assert.match(err.message, /assembly\/index\.ts\(3,/);
    return true;
  });
});

test('an AssemblyScript compiler crash becomes a CompileError instead of exiting the process', async () => {
  const dir = project(`import { definePlugin, JsonObject } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";
class Config { n: i32 = 0; }
function parse(json: JsonObject, c: Config): void {}
function onTick(): void { if (plugin.global === null) return; }
const plugin = definePlugin<Config>("crash", parse).onTick(1000, onTick);
`);
  await assert.rejects(compilePlugin({ dir }), /the AssemblyScript compiler crashed .*declare its type/);
});

test('an SDK plugin cannot swap asc\'s runtime through higressPlugin.ascFlags', async () => {
  const dir = project('import { definePlugin } from "@higress-plugin/sdk";\nexport * from "@higress-plugin/sdk/exports";\n');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', higressPlugin: { ascFlags: ['--runtime', 'incremental'] } }));
  await assert.rejects(compilePlugin({ dir }), (err: Error) => {
    assert.ok(err instanceof CompileError);
    assert.match(err.message, /package\.json: higressPlugin\.ascFlags sets --runtime, but plugins built with the SDK need asc's minimal runtime/);
    return true;
  });
});

test('a plugin written against the raw ABI (no SDK) builds and imports nothing it does not call', async () => {
  const dir = project(`@external("env", "proxy_log") declare function proxy_log(l: i32, p: usize, n: usize): i32;
export function proxy_abi_version_0_2_1(): void {}
export function proxy_on_memory_allocate(size: usize): usize { return heap.alloc(size); }
export function proxy_on_request_headers(id: u32, n: u32, eos: bool): i32 { const a = new Array<i32>(1); proxy_log(2, 0, 0); return a[n]; }
`);
  const { outFile } = await compilePlugin({ dir });
  assert.deepEqual(moduleImports(outFile), ['env.proxy_log']);
});
