// Loading modules: import validation (unknown import → error naming it), ABI detection, the
// WASI/env stubs both WASI module names provide, start-up functions and required exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PluginModule, Plugin, FilterChain } from '../../runtime/host/index.js';
import { PluginLoadError, PluginConfigureError } from '../../runtime/host/errors.js';
import { Emulator } from '../../runtime/emulator/index.js';
import { StreamCallback } from '../../spec/index.js';
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

test('callbacks a module declares unhandled (higress_plugin_callbacks) are never called; without the export every callback is', async () => {
  // Body and response callbacks that trap: calling one fails the stream.
  const bodies = { request_body: 'unreachable', response_headers: 'unreachable', response_body: 'unreachable' };
  const run = async (extra: string): Promise<string> => {
    const emu = await Emulator.load(await wat(watPlugin({ bodies, extra })));
    const chain = new FilterChain([emu.plugin], { startTimeNs: 0n });
    const steps = [
      await chain.requestHeaders(getRequest(), false),
      await chain.requestData(Buffer.from('up'), true),
      await chain.responseHeaders([[':status', '200']], false),
      await chain.responseData(Buffer.from('down'), true),
    ];
    chain.finish();
    return steps.map((r) => r.kind).join(' ');
  };
  // REQUEST_HEADERS and REQUEST_TRAILERS only.
  assert.equal(await run('(func (export "higress_plugin_callbacks") (result i32) (i32.const 5))'), 'continue continue continue continue');
  assert.equal(await run(''), 'continue local local local', 'the trapping request body callback answers 503');
  const declared = await Emulator.load(await wat(watPlugin({ extra: '(func (export "higress_plugin_callbacks") (result i32) (i32.const 17))' })));
  assert.deepEqual([declared.plugin.handlesRequestBody, declared.plugin.handlesResponseBody], [false, true]);
});

test('proxy_on_done and proxy_on_log are skipped only when the module declares NO_STREAM_DONE', async () => {
  // A stream end that traps: calling proxy_on_log fails the VM.
  const failsAtEnd = async (mask: string): Promise<boolean> => {
    const extra = mask ? `(func (export "higress_plugin_callbacks") (result i32) (i32.const ${mask}))` : '';
    const emu = await Emulator.load(await wat(watPlugin({ bodies: { log: 'unreachable' }, extra })));
    const chain = new FilterChain([emu.plugin], { startTimeNs: 0n });
    assert.equal((await chain.requestHeaders(getRequest(), true)).kind, 'continue');
    chain.finish();
    return emu.plugin.vm.failure !== undefined;
  };
  assert.equal(await failsAtEnd(String(StreamCallback.REQUEST_HEADERS | StreamCallback.NO_STREAM_DONE)), false, 'the stream end is not called');
  assert.equal(await failsAtEnd(String(StreamCallback.REQUEST_HEADERS)), true, 'a mask without the bit (an older SDK) keeps it');
  assert.equal(await failsAtEnd(''), true);
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

test('the rest of WASI and the 0.1.0 calls answer what cpp-host answers', async () => {
  const imports = `
    (import "wasi_unstable" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
    (import "wasi_unstable" "fd_close" (func $fd_close (param i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
    (import "wasi_unstable" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
    (import "wasi_unstable" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
    (import "wasi_unstable" "fd_prestat_dir_name" (func $prestat_name (param i32 i32 i32) (result i32)))
    (import "wasi_unstable" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
    (import "env" "proxy_get_configuration" (func $get_config (param i32 i32) (result i32)))
    (import "env" "proxy_clear_route_cache" (func $clear (result i32)))
    (import "env" "proxy_continue_request" (func $cont_req (result i32)))
    (import "env" "proxy_continue_response" (func $cont_resp (result i32)))
    (import "env" "proxy_continue_stream" (func $cont (param i32) (result i32)))
    (import "env" "proxy_close_stream" (func $close (param i32) (result i32)))
    (import "env" "proxy_get_buffer_bytes" (func $get_buf (param i32 i32 i32 i32 i32) (result i32)))
    (import "env" "pthread_equal" (func $peq (param i32 i32) (result i32)))
    (import "env" "emscripten_notify_memory_growth" (func $grown (param i32)))`;
  const r = (i: number, call: string): string => `(i32.store (i32.const ${1024 + i * 4}) ${call})`;
  const body = [
    r(0, '(call $fd_read (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 16))'),
    r(1, '(call $fd_seek (i32.const 1) (i64.const 0) (i32.const 0) (i32.const 16))'),
    r(2, '(call $fd_close (i32.const 1))'),
    r(3, '(call $fdstat (i32.const 1) (i32.const 32))'),
    r(4, '(call $fdstat (i32.const 9) (i32.const 32))'),
    r(5, '(call $args_sizes (i32.const 64) (i32.const 68))'),
    r(6, '(call $args_get (i32.const 64) (i32.const 68))'),
    r(7, '(call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 16))'),
    r(8, '(call $prestat (i32.const 3) (i32.const 16))'),
    r(9, '(call $prestat_name (i32.const 3) (i32.const 16) (i32.const 4))'),
    r(10, '(call $clock (i32.const 5) (i64.const 0) (i32.const 16))'),
    r(11, '(call $get_config (i32.const 80) (i32.const 84))'),
    r(12, '(call $clear)'),
    r(13, '(call $cont_req)'),
    r(14, '(call $cont (i32.const 5))'),
    r(15, '(call $close (i32.const 9))'),
    r(16, '(call $peq (i32.const 3) (i32.const 3))'),
    r(17, '(call $cont_resp)'),
    r(18, '(call $get_buf (i32.const 7) (i32.const 100) (i32.const 10) (i32.const 16) (i32.const 20))'),
    '(call $grown (i32.const 0))',
    '(i32.const 1)',
  ].join('\n');
  const emu = await Emulator.load(await wat(watPlugin({ abi: '0_1_0', imports, bodies: { request_headers: body } })), { configuration: 'abc' });
  const s = emu.stream();
  const res = await s.requestHeaders(getRequest(), { endOfStream: true });
  assert.equal(res.kind, 'continue', 'proxy_continue_request during the callback resumed the paused headers');
  const mem = emu.plugin.vm.mem;
  const got = Array.from({ length: 19 }, (_, i) => mem.u32(1024 + i * 4));
  const BADF = 8; const INVAL = 28;
  assert.deepEqual(got, [BADF, BADF, BADF, 0, BADF, 0, 0, BADF, BADF, BADF, INVAL, 0, 0, 0, 2, 2, 1, 0, 2]);
  assert.equal(mem.u8[32], 2, 'stdout is a character device');
  assert.deepEqual([mem.u32(64), mem.u32(68)], [0, 0], 'no args');
  const cfg = mem.u32(80);
  assert.equal(Buffer.from(mem.u8.subarray(cfg, cfg + mem.u32(84))).toString(), 'abc', 'proxy_get_configuration');
  s.finish();
});
