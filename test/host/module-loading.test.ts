// Loading modules: import validation (unknown import → error naming it), ABI detection, the
// WASI/env stubs both WASI module names provide, start-up functions and required exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PluginModule, Plugin, FilterChain } from '../../runtime/host/index.js';
import { PluginLoadError, PluginConfigureError } from '../../runtime/host/errors.js';
import { Emulator } from '../../runtime/emulator/index.js';
import { wat, watPlugin, testPluginBytes, getRequest } from './helpers.js';

test('a module importing a function the host does not provide fails to load, naming the import', async () => {
  const bytes = await wat(watPlugin({ imports: '(import "env" "abort" (func (param i32 i32 i32 i32)))' }));
  await assert.rejects(PluginModule.compile(bytes, 'bad.wasm'), (err: unknown) => {
    assert.ok(err instanceof PluginLoadError);
    assert.equal(err.code, 'HP_UNKNOWN_IMPORT');
    assert.match(err.message, /bad\.wasm imports env\.abort/);
    return true;
  });
  const other = await wat(watPlugin({ imports: '(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))' }));
  await assert.rejects(PluginModule.compile(other), /imports wasi_snapshot_preview1\.sock_accept/);
  const mod = await wat(watPlugin({ imports: '(import "mystery" "fn" (func))' }));
  await assert.rejects(PluginModule.compile(mod), /imports mystery\.fn.*unknown import module/);
});

test('not wasm, no ABI marker, no memory export or no allocator are load errors with codes', async () => {
  await assert.rejects(PluginModule.compile(new Uint8Array([1, 2, 3])), { code: 'HP_INVALID_MODULE' });
  await assert.rejects(PluginModule.compile(await wat('(module (memory (export "memory") 1) (func (export "malloc") (param i32) (result i32) (i32.const 0)))')), { code: 'HP_UNKNOWN_ABI' });
  await assert.rejects(PluginModule.compile(await wat(watPlugin({ memory: '(memory 1)' }))), { code: 'HP_MISSING_EXPORT' });
  await assert.rejects(PluginModule.compile(await wat(watPlugin({ allocatorName: 'my_alloc' }))), /exports no allocator/);
});

test('the ABI version comes from the marker export (0.1.0, 0.2.0, 0.2.1)', async () => {
  for (const v of ['0_1_0', '0_2_0', '0_2_1'] as const) {
    const m = await PluginModule.compile(await wat(watPlugin({ abi: v })));
    assert.equal(m.abiVersion, v.replaceAll('_', '.'));
    assert.ok(m.exports.includes('proxy_on_request_headers'));
  }
  const probe = await PluginModule.compile(testPluginBytes('probe'));
  assert.equal(probe.abiVersion, '0.2.1');
  assert.ok(probe.imports.includes('env.proxy_log'));
});

test('the WASI subset is provided under both module names, plus the env stubs', async () => {
  const wasi = ['fd_write', 'fd_read', 'fd_seek', 'fd_close', 'fd_fdstat_get', 'environ_get', 'environ_sizes_get', 'args_get',
    'args_sizes_get', 'clock_time_get', 'random_get', 'proc_exit', 'path_open', 'fd_prestat_get', 'fd_prestat_dir_name'];
  // Signatures do not matter for the host (JS functions); declare them loosely but validly.
  const sig: Record<string, string> = {
    fd_seek: '(param i32 i64 i32 i32) (result i32)', clock_time_get: '(param i32 i64 i32) (result i32)', proc_exit: '(param i32)',
    path_open: '(param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)',
  };
  const lines: string[] = [];
  for (const m of ['wasi_unstable', 'wasi_snapshot_preview1']) {
    for (const f of wasi) lines.push(`(import "${m}" "${f}" (func ${sig[f] ?? '(param i32 i32) (result i32)'}))`);
  }
  lines.push('(import "env" "pthread_equal" (func (param i32 i32) (result i32)))');
  lines.push('(import "env" "emscripten_notify_memory_growth" (func (param i32)))');
  const bytes = await wat(watPlugin({ imports: lines.join('\n') }));
  const mod = await PluginModule.compile(bytes);
  assert.equal(mod.imports.length, 32);
  const plugin = await Plugin.create(mod, { name: 'wasi-all', env: { log: () => {} } });
  assert.equal(plugin.state, 'ready');
});

test('start-up: _initialize then main run before on_vm_start; _start runs when there is no _initialize', async () => {
  const order = `(import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))`;
  const data = '(data (i32.const 100) "init") (data (i32.const 104) "main") (data (i32.const 108) "strt") (data (i32.const 112) "vmst")';
  const logFn = (at: number): string => `(drop (call $log (i32.const 2) (i32.const ${at}) (i32.const 4)))`;
  const extra = `${data}
    (func (export "_initialize") ${logFn(100)})
    (func (export "main") (param i32 i32) (result i32) ${logFn(104)} (i32.const 0))`;
  const emu = await Emulator.load(await wat(watPlugin({ imports: order, extra, bodies: { vm_start: `${logFn(112)} (i32.const 1)` } })));
  assert.deepEqual(emu.logs.map((l) => l.message), ['init', 'main', 'vmst']);
  const emu2 = await Emulator.load(await wat(watPlugin({ imports: order, extra: `${data} (func (export "_start") ${logFn(108)})` })));
  assert.deepEqual(emu2.logs.map((l) => l.message), ['strt']);
});

test('a trap during start-up or a refused on_configure rejects Plugin.create with a typed error', async () => {
  const trapStart = await wat(watPlugin({ extra: '(func (export "_start") unreachable)' }));
  await assert.rejects(Plugin.create(await PluginModule.compile(trapStart), { name: 'boot', env: { log: () => {} } }), (err: unknown) => {
    assert.ok(err instanceof PluginConfigureError);
    assert.match(err.message, /plugin "boot": VM failed in _start: unreachable/);
    return true;
  });
  const refuse = await wat(watPlugin({ bodies: { configure: '(i32.const 0)' } }));
  await assert.rejects(Plugin.create(await PluginModule.compile(refuse), { name: 'no', env: { log: () => {} } }), /proxy_on_configure rejected/);
  await assert.rejects(Plugin.create(await PluginModule.compile(refuse), { name: '' }), { code: 'HP_BAD_OPTION' });
  await assert.rejects(Plugin.create(await PluginModule.compile(refuse), { name: 'x', memoryLimitBytes: -1 }), /PluginOptions.memoryLimitBytes must be a positive number/);
  await assert.rejects(Plugin.create(await PluginModule.compile(refuse), { name: 'x', failStrategy: 'FAIL_SOMETIMES' as never }), /failStrategy must be/);
});

test('a 0.1.0 plugin gets its headers callbacks and proxy_continue_request', async () => {
  const imports = '(import "env" "proxy_continue_request" (func $cont (result i32)))';
  const bytes = await wat(watPlugin({ abi: '0_1_0', imports, bodies: { request_headers: '(i32.const 1)', tick: '(drop (call $cont))' } }));
  const emu = await Emulator.load(bytes);
  const s = emu.stream();
  const p = s.requestHeaders(getRequest(), { endOfStream: true });
  await emu.settle();
  assert.equal(s.paused, true);
  emu.tick(); // the plugin's tick continues... but from the root context: not a stream
  await emu.settle();
  assert.equal(s.paused, true, 'continue from the root context (no effective stream) does nothing');
  s.finish();
  assert.equal((await p).kind, 'reset');
});

test('FilterChain reports whether plugins want request and response bodies', async () => {
  const noBody = await Emulator.load(await wat(watPlugin({ extra: '' })));
  const chain = new FilterChain([noBody.plugin], { startTimeNs: 0n });
  assert.equal(chain.wantsRequestBody, true);
  chain.finish();
  const headersOnly = `(module (memory (export "memory") 1) (func (export "malloc") (param i32) (result i32) (i32.const 64))
    (func (export "proxy_abi_version_0_2_0")) (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0)))`;
  const emu = await Emulator.load(await wat(headersOnly));
  const c2 = new FilterChain([emu.plugin], { startTimeNs: 0n });
  assert.equal(c2.wantsRequestBody, false);
  assert.equal(c2.wantsResponseBody, false);
  const r = await c2.requestHeaders(getRequest(), false);
  assert.equal(r.kind, 'continue');
  const d = await c2.requestData(Buffer.from('passes'), true);
  assert.equal(Buffer.from((d as { data: Uint8Array }).data).toString(), 'passes');
  c2.finish();
});
