// Stream lifecycle and Envoy filter-chain semantics: order of callbacks, pause/continue, body
// buffering, trailers, local responses seen by earlier plugins, close, buffer limits, finish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { PluginConfigureError } from '../../runtime/host/errors.js';
import { testPluginPath, getRequest } from './helpers.js';

const PROBE = testPluginPath('probe');
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString();

test('a stream runs context create, headers, body, trailers both ways, then done, log, delete', async () => {
  const emu = await Emulator.load(PROBE);
  emu.clearLogs();
  const s = emu.stream();
  await s.requestHeaders(getRequest(), { endOfStream: false });
  await s.requestBody('abc', { endOfStream: false });
  const t = await s.requestTrailers([['grpc-status', '0']]);
  assert.deepEqual(t, { kind: 'continue', headers: [['grpc-status', '0'], ['x-trailer-added', '1']], data: new Uint8Array(0) });
  await s.responseHeaders([[':status', '200']]);
  await s.responseBody('xyz', { endOfStream: false });
  await s.responseTrailers([['x-t', '1']]);
  s.finish();
  s.finish();
  const msgs = emu.logs.map((l) => l.message.split(':')[0] + (l.message.includes('eos=1') ? '(eos)' : ''));
  assert.deepEqual(msgs, ['request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers', 'done', 'log', 'delete']);
  assert.ok(emu.logs.some((l) => l.message === 'request_trailers: n=1 grpc-status=0'));
  assert.equal(text(s.requestBodyOut), 'abc');
  assert.equal(text(s.responseBodyOut), 'xyz');
  assert.equal(s.responseHeader('x-probe'), 'seen');
  assert.equal(emu.plugin.stats.activeStreams, 0);
});

test('configuration refused by on_configure or on_vm_start rejects with the plugin name', async () => {
  await assert.rejects(Emulator.load(PROBE, { name: 'picky', configuration: 'reject=1' }), (err: unknown) => {
    assert.ok(err instanceof PluginConfigureError);
    assert.equal(err.code, 'HP_CONFIGURE_FAILED');
    assert.match(err.message, /plugin "picky": proxy_on_configure rejected the configuration/);
    assert.ok(err.logs.includes('configure: size=8 config=reject=1'));
    return true;
  });
  await assert.rejects(Emulator.load(PROBE, { vmConfiguration: 'reject' }), /proxy_on_vm_start returned false/);
});

test('a body callback that pauses on non-final chunks makes the chain buffer and call again with the grown body', async () => {
  const emu = await Emulator.load(PROBE);
  emu.clearLogs();
  const s = emu.stream();
  await s.requestHeaders(getRequest([['x-body-op', 'buffer']], '/up'));
  const r1 = await s.requestBody('one,', { endOfStream: false });
  assert.deepEqual(r1, { kind: 'continue', data: new Uint8Array(0) });
  await s.requestBody('two,', { endOfStream: false });
  const r3 = await s.requestBody('three', { endOfStream: true });
  assert.equal(r3.kind, 'continue');
  assert.equal(text(s.requestBodyOut), 'one,two,three');
  const bodies = emu.logs.filter((l) => l.message.startsWith('request_body')).map((l) => l.message);
  assert.deepEqual(bodies, [
    'request_body: size=4 eos=0 body=one,',
    'request_body: size=8 eos=0 body=one,two,',
    'request_body: size=13 eos=1 body=one,two,three',
  ]);
  s.finish();
});

test('set_buffer_bytes replaces, appends and prepends the body (Envoy semantics)', async () => {
  const emu = await Emulator.load(PROBE);
  let s = emu.stream();
  await s.requestHeaders(getRequest([['x-body-op', 'replace']]));
  await s.requestBody('orig', { endOfStream: true });
  assert.equal(text(s.requestBodyOut), 'replaced:orig');
  s.finish();
  emu.clearLogs();
  s = emu.stream();
  await s.requestHeaders(getRequest([['x-body-op', 'append']]));
  await s.requestBody('mid', { endOfStream: true });
  assert.equal(text(s.requestBodyOut), 'head+mid+tail');
  assert.ok(emu.logs.some((l) => l.message === 'bad_start: status=2 value='));
  s.finish();
});

test('response body buffering lets a plugin rewrite the whole response body', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream();
  await s.requestHeaders(getRequest([['x-body-op', 'resp-buffer']]), { endOfStream: true });
  await s.responseHeaders([[':status', '200']]);
  assert.deepEqual(await s.responseBody('hello ', { endOfStream: false }), { kind: 'continue', data: new Uint8Array(0) });
  await s.responseBody('world', { endOfStream: true });
  assert.equal(text(s.responseBodyOut), 'HELLO WORLD');
  s.finish();
});

test('StopIteration on headers delivers the body to that plugin, and its Continue releases the headers', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream();
  const h = await s.requestHeaders(getRequest([['x-action', '1'], ['x-body-op', 'headers-late']]), { endOfStream: false });
  assert.deepEqual(h, { kind: 'continue' }, 'headers held: they come with the body result');
  const r = await s.requestBody('data', { endOfStream: true });
  assert.equal(r.kind, 'continue');
  if (r.kind !== 'continue') return;
  assert.ok(r.headers, 'headers released with the body');
  assert.equal(r.headers!.find((x) => x[0] === 'x-late')?.[1], 'body-seen');
  assert.equal(text(r.data), 'data');
  s.finish();
});

test('a pause with higher codes (StopAll) holds headers and body until proxy_continue_stream', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream();
  const hp = s.requestHeaders(getRequest([['x-op', 'http-call'], ['x-action', '4']]), { endOfStream: false });
  const bp = s.requestBody('queued', { endOfStream: true });
  await emu.settle();
  assert.equal(s.paused, true);
  assert.equal(emu.logs.some((l) => l.message.startsWith('request_body')), false, 'body not delivered during StopAll');
  await emu.httpCalls[0]!.respond({ body: 'bob' });
  const h = await hp;
  const b = await bp;
  assert.equal(h.kind, 'continue');
  assert.equal(s.requestHeader('x-auth'), 'bob');
  assert.equal(b.kind, 'continue');
  assert.equal(text(s.requestBodyOut), 'queued');
  s.finish();
});

test('a body that pauses at end of stream waits for continue; close_stream resets the stream', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream();
  await s.requestHeaders(getRequest([['x-op', 'close']]), { endOfStream: true }).then((r) => assert.deepEqual(r, { kind: 'reset', reason: 'closed by plugin test-plugin' }));
  s.finish();
  const s2 = emu.stream();
  await s2.requestHeaders(getRequest([['x-body-op', 'pause-eos']]));
  let settled = false;
  const p = s2.requestBody('x', { endOfStream: true }).then((r) => { settled = true; return r; });
  await emu.settle();
  assert.equal(settled, false);
  s2.finish();
  assert.equal((await p).kind, 'reset');
});

test('a local response from a later plugin runs through the response callbacks of earlier ones', async () => {
  // custom-response style: `outer` rewrites the status of a response `inner` sent locally.
  const outer = await Emulator.load(PROBE, { name: 'outer', configuration: 'skip-ops=1;rewrite-status=418' });
  const inner = await Emulator.load(PROBE, { name: 'inner' });
  const s = Emulator.chain([outer, inner]).stream();
  outer.clearLogs();
  inner.clearLogs();
  const r = await s.requestHeaders(getRequest([['x-op', 'local'], ['x-arg', '401']]), { endOfStream: true });
  assert.equal(r.kind, 'local');
  if (r.kind !== 'local') return;
  assert.equal(r.response.status, 418);
  assert.deepEqual(r.response.headers, [['x-local', '1'], ['content-type', 'text/plain'], ['x-probe', 'seen']]);
  assert.equal(text(r.response.body), 'denied by probe');
  assert.ok(outer.logs.some((l) => l.message === 'response_headers: status=401 eos=0'));
  assert.ok(outer.logs.some((l) => l.message.startsWith('response_body: size=15 eos=1')));
  assert.equal(inner.logs.some((l) => l.message.startsWith('response_headers')), false, 'the sender does not see its own response');
  s.finish();
  assert.ok(outer.logs.some((l) => l.message.startsWith('log: ctx=') && l.message.endsWith('status=418')));
});

test('an earlier plugin that pauses while a local response passes back does not hang the stream', async () => {
  const outer = await Emulator.load(PROBE, { name: 'outer', configuration: 'skip-ops=1;resp-pause=1' });
  const inner = await Emulator.load(PROBE, { name: 'inner' });
  const s = Emulator.chain([outer, inner]).stream();
  const r = await s.requestHeaders(getRequest([['x-op', 'local'], ['x-arg', '401']]), { endOfStream: true });
  assert.equal(r.kind, 'local');
  if (r.kind === 'local') {
    assert.equal(r.response.status, 401);
    assert.equal(text(r.response.body), 'denied by probe');
  }
  s.finish();
});

test('plugins run in order for requests and in reverse for responses', async () => {
  const a = await Emulator.load(PROBE, { name: 'a', configuration: 'skip-ops=1' });
  const b = await Emulator.load(PROBE, { name: 'b' });
  const order: string[] = [];
  const s = Emulator.chain([a, b]).stream();
  a.clearLogs(); b.clearLogs();
  await s.requestHeaders(getRequest([['x-op', 'add'], ['x-arg', 'from-b']]), { endOfStream: true });
  await s.responseHeaders([[':status', '200']], { endOfStream: true });
  for (const [name, emu] of [['a', a], ['b', b]] as const) for (const l of emu.logs) order.push(`${name}:${l.message.split(':')[0]}`);
  assert.deepEqual(order.filter((x) => x.endsWith('request_headers')), ['a:request_headers', 'b:request_headers']);
  assert.equal(s.requestHeader('x-added'), 'from-b');
  assert.deepEqual(s.responseHeadersOut.filter((h) => h[0] === 'x-probe').length, 2);
  s.finish();
});

test('a body beyond the buffer limit while a plugin buffers is answered 413', async () => {
  const emu = await Emulator.load(PROBE, { bodyBufferLimitBytes: 10 });
  const s = emu.stream();
  await s.requestHeaders(getRequest([['x-body-op', 'buffer']]));
  assert.equal((await s.requestBody('12345', { endOfStream: false })).kind, 'continue');
  const r = await s.requestBody('678901', { endOfStream: false });
  assert.equal(r.kind, 'local');
  if (r.kind === 'local') assert.equal(r.response.status, 413);
  s.finish();
});

test('a local response sent from a body callback ends the stream', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream();
  await s.requestHeaders(getRequest([['x-body-op', 'local-body']]));
  const r = await s.requestBody('big', { endOfStream: true });
  assert.equal(r.kind, 'local');
  if (r.kind === 'local') {
    assert.equal(r.response.status, 413);
    assert.equal(text(r.response.body), 'too big');
  }
  assert.deepEqual(await s.responseHeaders([[':status', '200']]), r, 'later phases see the same outcome');
  s.finish();
});

test('ticks: the period the plugin sets drives proxy_on_tick with the emulated clock', async () => {
  const emu = await Emulator.load(PROBE, { configuration: 'tick=100' });
  assert.equal(emu.tickPeriodMs, 100);
  emu.clearLogs();
  emu.advanceTime(350);
  assert.equal(emu.logs.filter((l) => l.message === 'tick: root=1').length, 3);
  emu.tick();
  assert.equal(emu.logs.filter((l) => l.message === 'tick: root=1').length, 4);
});

test('destroy waits for in-flight streams, then ends the root context', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream();
  await s.requestHeaders(getRequest(), { endOfStream: true });
  let destroyed = false;
  const d = emu.plugin.destroy().then(() => { destroyed = true; });
  await emu.settle();
  assert.equal(destroyed, false);
  emu.clearLogs();
  s.finish();
  await d;
  assert.deepEqual(emu.logs.map((l) => l.message), ['done: ctx=2', 'log: ctx=2 status=none', 'delete: ctx=2', 'done: ctx=1', 'delete: ctx=1']);
});

test('StopIteration from a plugin without a body callback holds the headers until it continues', async () => {
  const { wat, watPlugin } = await import('./helpers.js');
  const imports = '(import "env" "proxy_continue_stream" (func $cont (param i32) (result i32)))';
  const emu = await Emulator.load(await wat(watPlugin({ imports, bodies: { request_headers: '(i32.const 1)' } }).replace(/\(func \(export "proxy_on_request_body"\)[^\n]*\n/, '')));
  assert.equal(emu.plugin.module.has('proxy_on_request_body'), false);
  const s = emu.stream();
  let done = false;
  const p = s.requestHeaders(getRequest(), { endOfStream: false }).then((r) => { done = true; return r; });
  await emu.settle();
  assert.equal(done, false, 'no body callback: the headers phase stays pending (stop all)');
  s.finish();
  assert.equal((await p).kind, 'reset');
});

test('a root context that returns false from on_done is deleted after it calls proxy_done', async () => {
  const { wat, watPlugin } = await import('./helpers.js');
  const imports = '(import "env" "proxy_done" (func $done (result i32))) (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))';
  const extra = '(data (i32.const 100) "deleted")';
  const emu = await Emulator.load(await wat(watPlugin({
    imports, extra,
    bodies: { done: '(i32.const 0)', tick: '(drop (call $done))', delete: '(drop (call $log (i32.const 2) (i32.const 100) (i32.const 7)))' },
  })));
  let destroyed = false;
  const d = emu.plugin.destroy().then(() => { destroyed = true; });
  await emu.settle();
  assert.equal(destroyed, false, 'waiting for proxy_done');
  assert.deepEqual(emu.logs.map((l) => l.message), []);
  emu.tick();
  await d;
  assert.deepEqual(emu.logs.map((l) => l.message), ['deleted']);
  const s = emu.stream();
  const r = await s.requestHeaders(getRequest(), { endOfStream: true });
  assert.equal(r.kind, 'local', 'a destroyed plugin serves no new stream');
  s.finish();
});

test('a local response sent from a response headers callback replaces the upstream response', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream();
  await s.requestHeaders(getRequest([['x-op', 'resp-local']]), { endOfStream: true });
  const r = await s.responseHeaders([[':status', '200'], ['x-upstream', '1']]);
  assert.equal(r.kind, 'local');
  if (r.kind === 'local') {
    assert.equal(r.response.status, 502);
    assert.equal(r.response.details, 'x');
  }
  assert.equal((await s.responseBody('ignored', { endOfStream: true })).kind, 'local');
  s.finish();
});

test('a chain with no plugins passes everything through', async () => {
  const { FilterChain } = await import('../../runtime/host/index.js');
  const chain = new FilterChain([], { startTimeNs: 0n });
  assert.deepEqual(await chain.requestHeaders(getRequest(), false), { kind: 'continue', headers: getRequest() });
  assert.deepEqual(await chain.requestData(Buffer.from('x'), true), { kind: 'continue', data: Buffer.from('x') });
  assert.deepEqual(await chain.responseHeaders([[':status', '200']], false), { kind: 'continue', headers: [[':status', '200']] });
  assert.deepEqual(await chain.responseTrailers([['t', '1']]), { kind: 'continue', headers: [['t', '1']], data: new Uint8Array(0) });
  chain.finish();
});
