// The fault suite: plugins that trap in each callback, call proc_exit, grow memory without bound,
// pass out-of-range pointers, or whose allocator returns garbage. The host survives each, reports
// a typed error naming the plugin and callback, applies the fail strategy, and the next stream
// works (FAIL_OPEN, FAIL_RELOAD after its backoff) or is answered 503 (FAIL_CLOSE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator, type EmulatorOptions } from '../../runtime/emulator/index.js';
import { VmFailureError } from '../../runtime/host/errors.js';
import { wat, watPlugin, getRequest, type WatPlugin } from './helpers.js';

const IMPORTS = `
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))`;
// "x-trap" at 200; an http_call header map (:method GET, :path /, :authority a) at 300; cluster at 400.
const DATA = `
  (data (i32.const 200) "x-trap")
  (data (i32.const 300) "\\03\\00\\00\\00\\07\\00\\00\\00\\03\\00\\00\\00\\05\\00\\00\\00\\01\\00\\00\\00\\0a\\00\\00\\00\\01\\00\\00\\00:method\\00GET\\00:path\\00/\\00:authority\\00a\\00")
  (data (i32.const 400) "auth")
  (func $wants_trap (result i32) (i32.eqz (call $get (i32.const 0) (i32.const 200) (i32.const 6) (i32.const 16) (i32.const 20))))`;
const HTTP_CALL_SIZE = 4 + 3 * 8 + 8 + 4 + 6 + 2 + 11 + 2;

async function load(p: WatPlugin, options: EmulatorOptions = {}): Promise<Emulator> {
  return Emulator.load(await wat(watPlugin({ imports: IMPORTS, ...p, extra: `${DATA}${p.extra ?? ''}` })), { name: 'faulty', ...options });
}

const trapIf = (ret: string): string => `(if (call $wants_trap) (then unreachable)) ${ret}`;

type Phase = 'request_headers' | 'request_body' | 'request_trailers' | 'response_headers' | 'response_body' | 'response_trailers';
const PHASES: Array<[Phase, string]> = [
  ['request_headers', 'proxy_on_request_headers'], ['request_body', 'proxy_on_request_body'], ['request_trailers', 'proxy_on_request_trailers'],
  ['response_headers', 'proxy_on_response_headers'], ['response_body', 'proxy_on_response_body'], ['response_trailers', 'proxy_on_response_trailers'],
];

/** Drives a full stream; returns the first non-continue result (or the last result). */
async function fullStream(emu: Emulator, trap: boolean) {
  const s = emu.stream();
  const extra: Array<[string, string]> = trap ? [['x-trap', '1']] : [];
  const steps = [
    () => s.requestHeaders(getRequest(extra)), () => s.requestBody('b'), () => s.requestTrailers([['t', '1']]),
    () => s.responseHeaders([[':status', '200']]), () => s.responseBody('r'), () => s.responseTrailers([['t', '2']]),
  ];
  let last;
  for (const step of steps) {
    last = await step();
    if (last.kind !== 'continue') break;
  }
  s.finish();
  return last!;
}

for (const [phase, exportName] of PHASES) {
  test(`a trap in ${exportName} fails the VM: FAIL_CLOSE answers 503 now and for later streams`, async () => {
    const emu = await load({ bodies: { [phase]: trapIf('(i32.const 0)') } });
    const r = await fullStream(emu, true);
    const early = phase.startsWith('request') || phase === 'response_headers';
    if (early) {
      assert.equal(r.kind, 'local');
      if (r.kind === 'local') assert.equal(r.response.status, 503);
    } else assert.equal(r.kind, 'reset', 'response already started: the stream is reset');
    const err = emu.plugin.lastError!;
    assert.ok(err instanceof VmFailureError);
    assert.equal(err.code, 'HP_VM_TRAP');
    assert.equal(err.callback, exportName);
    assert.equal(err.plugin, 'faulty');
    assert.match(err.message, new RegExp(`plugin "faulty": VM failed in ${exportName}: unreachable`));
    assert.ok(emu.logs.some((l) => l.levelName === 'ERROR' && l.message.includes(exportName)));
    assert.equal(emu.plugin.state, 'failed');
    const next = await fullStream(emu, false);
    assert.equal(next.kind, 'local', 'FAIL_CLOSE: every later stream is refused');
    assert.equal(emu.plugin.stats.failures, 1);
  });
}

test('FAIL_OPEN skips the failed plugin for this and every later stream', async () => {
  const emu = await load({ bodies: { request_headers: trapIf('(i32.const 0)') } }, { failStrategy: 'FAIL_OPEN' });
  const s = emu.stream();
  const r = await s.requestHeaders(getRequest([['x-trap', '1']]), { endOfStream: true });
  assert.equal(r.kind, 'continue');
  s.finish();
  assert.equal(emu.plugin.state, 'failed');
  assert.equal((await fullStream(emu, false)).kind, 'continue');
});

test('FAIL_RELOAD answers 503 during the 1 s backoff, then a fresh VM serves the next stream', async () => {
  const emu = await load({ bodies: { request_headers: trapIf('(i32.const 0)') } }, { failStrategy: 'FAIL_RELOAD' });
  const first = emu.plugin.vm;
  assert.equal((await fullStream(emu, true)).kind, 'local');
  assert.equal(emu.plugin.state, 'reloading');
  assert.equal((await fullStream(emu, false)).kind, 'local', 'inside the backoff: fail closed');
  assert.equal(emu.plugin.stats.vmReloadBackoffs, 1);
  emu.advanceTime(999);
  assert.equal((await fullStream(emu, false)).kind, 'local');
  emu.advanceTime(1);
  const r = await fullStream(emu, false);
  assert.equal(r.kind, 'continue');
  assert.notEqual(emu.plugin.vm, first);
  assert.equal(emu.plugin.state, 'ready');
  assert.equal(emu.plugin.stats.vmReloads, 1);
  assert.equal(emu.plugin.stats.failures, 1);
});

test('proc_exit ends the VM with HP_PROC_EXIT', async () => {
  const emu = await load({ bodies: { request_headers: '(call $exit (i32.const 7)) (i32.const 0)' } }, { failStrategy: 'FAIL_RELOAD' });
  const r = await fullStream(emu, false);
  assert.equal(r.kind, 'local');
  assert.equal(emu.plugin.lastError!.code, 'HP_PROC_EXIT');
  assert.match(emu.plugin.lastError!.message, /proc_exit\(7\)/);
});

test('a plugin growing memory without bound hits the cap, traps, and is rebuilt', async () => {
  const grow = '(block $done (loop $l (br_if $done (i32.eq (memory.grow (i32.const 16)) (i32.const -1))) (br $l))) unreachable';
  const emu = await load({ bodies: { request_headers: `(if (call $wants_trap) (then ${grow})) (i32.const 0)` } },
    { failStrategy: 'FAIL_RELOAD', memoryLimitBytes: 4 * 1024 * 1024 });
  const r = await fullStream(emu, true);
  assert.equal(r.kind, 'local');
  assert.equal(emu.plugin.lastError!.code, 'HP_VM_TRAP');
  assert.ok(emu.memoryBytes() <= 8 * 1024 * 1024, `memory capped at twice the ceiling (${emu.memoryBytes()})`);
  emu.advanceTime(1000);
  assert.equal((await fullStream(emu, false)).kind, 'continue');
  assert.equal(emu.plugin.stats.vmReloads, 1);
});

test('a VM past its memory ceiling finishes its streams, and new streams get a rebuilt VM', async () => {
  const emu = await load({ bodies: { request_headers: '(if (call $wants_trap) (then (drop (memory.grow (i32.const 80))))) (i32.const 0)' } },
    { memoryLimitBytes: 4 * 1024 * 1024 });
  const old = emu.plugin.vm;
  const inflight = emu.stream();
  await inflight.requestHeaders(getRequest([['x-trap', '1']]));
  assert.ok(emu.memoryBytes() > 4 * 1024 * 1024);
  const fresh = emu.stream();
  assert.equal((await fresh.requestHeaders(getRequest(), { endOfStream: true })).kind, 'continue');
  assert.notEqual(emu.plugin.vm, old);
  assert.equal(emu.plugin.stats.memoryRebuilds, 1);
  assert.equal(old.activeStreams, 1);
  assert.equal((await inflight.requestBody('still served', { endOfStream: true })).kind, 'continue');
  inflight.finish();
  fresh.finish();
  assert.equal(old.activeStreams, 0);
  assert.equal(emu.plugin.state, 'ready');
});

test('out-of-range pointers get INVALID_MEMORY_ACCESS and the plugin carries on', async () => {
  // Traps only if the host did NOT answer 6 for a pointer past the end of memory.
  const body = `(if (i32.ne (call $log (i32.const 2) (i32.const 0x7ffffff0) (i32.const 64)) (i32.const 6)) (then unreachable))
    (if (i32.ne (call $pairs (i32.const 0) (i32.const -4) (i32.const 8)) (i32.const 6)) (then unreachable))
    (if (i32.ne (call $get (i32.const 0) (i32.const 200) (i32.const -1) (i32.const 16) (i32.const 20)) (i32.const 6)) (then unreachable))
    (i32.const 0)`;
  const emu = await load({ bodies: { request_headers: body } });
  assert.equal((await fullStream(emu, false)).kind, 'continue');
  assert.equal(emu.plugin.state, 'ready');
});

test('an allocator returning garbage fails the VM with HP_BAD_ALLOCATOR', async () => {
  const emu = await load({
    bodies: { allocate: '(i32.const -256)', request_headers: '(drop (call $pairs (i32.const 0) (i32.const 16) (i32.const 20))) (i32.const 0)' },
  }, { failStrategy: 'FAIL_OPEN' });
  const r = await fullStream(emu, false);
  assert.equal(r.kind, 'continue', 'FAIL_OPEN: skipped');
  assert.equal(emu.plugin.lastError!.code, 'HP_BAD_ALLOCATOR');
  assert.match(emu.plugin.lastError!.message, /allocator returned 4294967040/);
});

test('a trap in proxy_on_tick (root context) fails the VM; the next stream gets the fail strategy', async () => {
  const emu = await load({ bodies: { tick: 'unreachable' } });
  emu.tick();
  assert.equal(emu.plugin.lastError!.callback, 'proxy_on_tick');
  assert.equal((await fullStream(emu, false)).kind, 'local');
});

test('a trap in proxy_on_http_call_response releases the paused stream with the fail strategy', async () => {
  const call = `(drop (call $http (i32.const 400) (i32.const 4) (i32.const 300) (i32.const ${HTTP_CALL_SIZE}) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 24))) (i32.const 1)`;
  const emu = await load({ bodies: { request_headers: call, http_call_response: 'unreachable' } });
  const s = emu.stream();
  const p = s.requestHeaders(getRequest(), { endOfStream: true });
  await emu.settle();
  assert.equal(emu.httpCalls.length, 1, 'the WAT header map was accepted');
  assert.equal(s.paused, true);
  await emu.httpCalls[0]!.respond({ status: 200 });
  const r = await p;
  assert.equal(r.kind, 'local');
  if (r.kind === 'local') assert.equal(r.response.status, 503);
  assert.equal(emu.plugin.lastError!.callback, 'proxy_on_http_call_response');
  s.finish();
});

test('a trap in on_done / on_log / on_delete is contained and reported', async () => {
  for (const cb of ['done', 'log', 'delete'] as const) {
    const emu = await load({ bodies: { [cb]: cb === 'done' ? trapIf('(i32.const 1)') : '(if (call $wants_trap) (then unreachable))' } });
    const s = emu.stream();
    await s.requestHeaders(getRequest([['x-trap', '1']]), { endOfStream: true });
    s.finish();
    assert.equal(emu.plugin.lastError!.callback, `proxy_on_${cb}`);
    assert.equal(emu.plugin.stats.activeStreams, 0);
  }
});

test('FAIL_RELOAD: a reload that fails again is counted and doubles the backoff', async () => {
  const getShared = '(import "env" "proxy_get_shared_data" (func $getsd (param i32 i32 i32 i32 i32) (result i32)))';
  // on_configure refuses while shared data "fail-configure" is "1".
  const configure = `(if (i32.eqz (call $getsd (i32.const 500) (i32.const 14) (i32.const 16) (i32.const 20) (i32.const 24)))
      (then (if (i32.eq (i32.load8_u (i32.load (i32.const 16))) (i32.const 49)) (then (return (i32.const 0))))))
    (i32.const 1)`;
  const emu = await load({
    imports: `${IMPORTS}${getShared}`, extra: '(data (i32.const 500) "fail-configure")',
    bodies: { configure, request_headers: trapIf('(i32.const 0)') },
  }, { failStrategy: 'FAIL_RELOAD' });
  emu.sharedData.set('fail-configure', Buffer.from('1'), 0);
  assert.equal((await fullStream(emu, true)).kind, 'local');
  emu.advanceTime(1000);
  assert.equal((await fullStream(emu, false)).kind, 'local', 'the reload failed: still closed');
  assert.equal(emu.plugin.stats.vmReloadFailures, 1);
  assert.ok(emu.logs.some((l) => /VM reload failed: .*proxy_on_configure rejected/.test(l.message)));
  emu.sharedData.set('fail-configure', Buffer.from('0'), 0);
  emu.advanceTime(1000);
  assert.equal((await fullStream(emu, false)).kind, 'local', 'backoff doubled to 2 s');
  assert.equal(emu.plugin.stats.vmReloadFailures, 1);
  emu.advanceTime(1000);
  assert.equal((await fullStream(emu, false)).kind, 'continue');
  assert.equal(emu.plugin.stats.vmReloads, 1);
});
