// A plugin shaped like one built with another proxy-wasm SDK (TinyGo / Higress wasm-go style):
// ABI 0.2.0, imports wasi_unstable.proc_exit, exports `malloc` (no proxy_on_memory_allocate),
// reads `plugin_root_id` to find its root context, and returns status codes above 1
// (4 = StopAllIterationAndWatermark for headers, 2 / 3 for bodies).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { PluginConfigureError } from '../../runtime/host/errors.js';
import { PluginModule } from '../../runtime/host/index.js';
import { wat, getRequest } from './helpers.js';

const HEADERS = '\\03\\00\\00\\00\\07\\00\\00\\00\\03\\00\\00\\00\\05\\00\\00\\00\\01\\00\\00\\00\\0a\\00\\00\\00\\01\\00\\00\\00:method\\00GET\\00:path\\00/\\00:authority\\00a\\00';
const HEADERS_SIZE = 4 + 24 + 8 + 4 + 6 + 2 + 11 + 2;

const COMPAT_WAT = `(module
  (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
  (import "wasi_unstable" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $effective (param i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 100) "plugin_root_id")
  (data (i32.const 120) "compat-root")
  (data (i32.const 140) "x-compat")
  (data (i32.const 150) "ok")
  (data (i32.const 160) "auth")
  (data (i32.const 200) "${HEADERS}")
  (global $heap (mut i32) (i32.const 8192))
  (global $root (mut i32) (i32.const 0))
  (global $stream (mut i32) (i32.const 0))
  (func (export "malloc") (param $n i32) (result i32)
    (local $p i32) (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))))
    (local.get $p))
  (func (export "proxy_abi_version_0_2_0"))
  ;; Root context: look up plugin_root_id (TinyGo SDK picks its root context this way).
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (local $p i32) (local $n i32) (local $i i32)
    (if (i32.ne (local.get $parent) (i32.const 0)) (then (return)))
    (if (i32.ne (call $prop (i32.const 100) (i32.const 14) (i32.const 16) (i32.const 20)) (i32.const 0)) (then (call $exit (i32.const 2))))
    (local.set $p (i32.load (i32.const 16)))
    (local.set $n (i32.load (i32.const 20)))
    (if (i32.ne (local.get $n) (i32.const 11)) (then (call $exit (i32.const 1))))
    (block $ok (loop $cmp
      (br_if $ok (i32.eq (local.get $i) (i32.const 11)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.load8_u (i32.add (i32.const 120) (local.get $i))))
        (then (call $exit (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $cmp)))
    (global.set $root (local.get $ctx))
    ;; a Go-style "fmt.Println" through WASI stdout
    (i32.store (i32.const 40) (local.get $p)) (i32.store (i32.const 44) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 40) (i32.const 1) (i32.const 48))))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param $ctx i32) (param i32 i32) (result i32)
    (global.set $stream (local.get $ctx))
    (drop (call $http (i32.const 160) (i32.const 4) (i32.const 200) (i32.const ${HEADERS_SIZE}) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 500) (i32.const 24)))
    (i32.const 4))
  (func (export "proxy_on_http_call_response") (param $root i32) (param i32 i32 i32 i32)
    (if (i32.ne (local.get $root) (global.get $root)) (then unreachable))
    (drop (call $effective (global.get $stream)))
    (drop (call $add (i32.const 0) (i32.const 140) (i32.const 8) (i32.const 150) (i32.const 2)))
    (drop (call $continue (i32.const 0))))
  (func (export "proxy_on_request_body") (param i32) (param i32) (param $eos i32) (result i32)
    (select (i32.const 0) (i32.const 2) (local.get $eos)))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_body") (param i32) (param i32) (param $eos i32) (result i32)
    (select (i32.const 0) (i32.const 3) (local.get $eos)))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
)`;

test('a plugin built the way other SDKs build them runs through a whole stream', async () => {
  const bytes = await wat(COMPAT_WAT);
  const mod = await PluginModule.compile(bytes);
  assert.equal(mod.abiVersion, '0.2.0');
  assert.equal(mod.allocator, 'malloc');
  assert.ok(mod.imports.includes('wasi_unstable.proc_exit'));

  const emu = await Emulator.load(bytes, { name: 'compat-root' });
  assert.deepEqual(emu.logs.map((l) => l.message), ['compat-root'], 'stdout through WASI became a log line');
  const s = emu.stream();
  const hp = s.requestHeaders(getRequest([['content-type', 'text/plain']]), { endOfStream: false });
  const b1 = s.requestBody('part-1,', { endOfStream: false });
  const b2 = s.requestBody('part-2', { endOfStream: true });
  await emu.settle();
  assert.equal(s.paused, true, 'status 4 holds the request while the call is out');
  assert.equal(emu.httpCalls[0]!.request.cluster, 'auth');
  await emu.httpCalls[0]!.respond({ status: 200 });
  const h = await hp;
  assert.equal(h.kind, 'continue');
  assert.equal(s.requestHeader('x-compat'), 'ok');
  await b1;
  await b2;
  assert.equal(Buffer.from(s.requestBodyOut).toString(), 'part-1,part-2', 'status 2 buffered the body until the last chunk');

  await s.responseHeaders([[':status', '200']]);
  assert.deepEqual(await s.responseBody('r1,', { endOfStream: false }), { kind: 'continue', data: new Uint8Array(0) });
  await s.responseBody('r2', { endOfStream: true });
  assert.equal(Buffer.from(s.responseBodyOut).toString(), 'r1,r2', 'status 3 buffered the response body too');
  s.finish();
  assert.equal(emu.plugin.state, 'ready');
});

test('the same plugin refuses to start under another root id (its proc_exit is a configure failure)', async () => {
  await assert.rejects(Emulator.load(await wat(COMPAT_WAT), { name: 'someone-else' }), (err: unknown) => {
    assert.ok(err instanceof PluginConfigureError);
    assert.match(err.message, /VM failed in proxy_on_context_create: proc_exit\(1\)/);
    return true;
  });
});
