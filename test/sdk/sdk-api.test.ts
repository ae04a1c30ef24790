import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { sdkTestPlugin } from './helpers.js';
import { request } from '../examples/helpers.js';
import { playChat, CHAT_HEARD } from '../host/helpers.js';

let wasm = '';
before(async () => { wasm = await sdkTestPlugin('sdk-probe'); });

test('streaming body handler rewrites each chunk as it passes, with per-request state', async () => {
  const emu = await Emulator.load(wasm);
  const s = emu.stream();
  await s.requestHeaders(request('POST', '/', 'example.com', [['x-upper', '1']]));
  await s.requestBody('hello ');
  await s.requestBody('world', { endOfStream: true });
  assert.equal(Buffer.from(s.requestBodyOut).toString(), 'HELLO WORLD!');
  const plain = emu.stream();
  await plain.requestHeaders(request('POST', '/'));
  await plain.requestBody('as is', { endOfStream: true });
  assert.equal(Buffer.from(plain.requestBodyOut).toString(), 'as is');
});

test('a stream starts with no per-request state of an earlier, finished stream (whose context the SDK reuses)', async () => {
  const emu = await Emulator.load(wasm);
  const first = emu.stream();
  await first.requestHeaders(request('POST', '/', 'example.com', [['x-upper', '1']]));
  await first.requestBody('loud', { endOfStream: true });
  first.finish();
  assert.equal(Buffer.from(first.requestBodyOut).toString(), 'LOUD!');
  for (let i = 0; i < 3; i++) {
    const next = emu.stream();
    await next.requestHeaders(request('POST', '/'));
    await next.requestBody('quiet', { endOfStream: true });
    next.finish();
    assert.equal(Buffer.from(next.requestBodyOut).toString(), 'quiet', `stream ${i + 2} saw the first stream's state`);
  }
});

test('stream-done handler records metrics with labels folded into the name', async () => {
  const emu = await Emulator.load(wasm);
  for (const route of ['default/a', 'default/a', '']) {
    const s = emu.stream({ routeName: route || undefined });
    await s.requestHeaders(request('GET', '/12345'), { endOfStream: true });
    s.finish();
  }
  assert.equal(emu.metric('sdk_probe_requests.route.default/a.typed.7'), 2n);
  assert.equal(emu.metric('sdk_probe_requests.route.none.typed.7'), 1n);
  const hist = emu.metrics().find((m) => m.name === 'sdk_probe_path_length');
  assert.equal(hist?.type, 'histogram');
  assert.equal(hist?.histogram?.count, 3);
});

test('shared data counter adds up across two VMs of the plugin', async () => {
  const a = await Emulator.load(wasm);
  const b = await Emulator.load(wasm, { shared: a.sharedData });
  const seen: string[] = [];
  for (const emu of [a, b, a]) {
    const s = emu.stream();
    await s.requestHeaders(request('GET', '/', 'example.com', [['x-count', '']]), { endOfStream: true });
    seen.push(s.requestHeader('x-count')!);
  }
  assert.deepEqual(seen, ['1/1', '2/2', '3/3']);
});

test('properties are readable by dotted name', async () => {
  const emu = await Emulator.load(wasm, { name: 'probe-root' });
  const read = async (name: string, info = {}) => {
    const s = emu.stream(info);
    await s.requestHeaders(request('GET', '/p?q=1', 'example.com', [['x-prop', name]]), { endOfStream: true });
    return [s.localResponse!.status, Buffer.from(s.localResponse!.body).toString()];
  };
  assert.deepEqual(await read('request.path'), [200, '/p?q=1']);
  assert.deepEqual(await read('route_name', { routeName: 'ns/r' }), [200, 'ns/r']);
  assert.deepEqual(await read('plugin_root_id'), [200, 'probe-root']);
  assert.deepEqual(await read('no.such.property'), [404, '']);
});

test('base64 helpers round-trip and reject malformed input', async () => {
  const emu = await Emulator.load(wasm);
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/héllo?', 'example.com', [['x-b64', Buffer.from('user:pässword').toString('base64')]]), { endOfStream: true });
  const [enc, dec] = Buffer.from(s.localResponse!.body).toString().split(' ');
  assert.equal(Buffer.from(enc!, 'base64').toString('latin1'), Buffer.from('/héllo?').toString('latin1'));
  assert.equal(dec, 'user:pässword');
  const bad = emu.stream();
  await bad.requestHeaders(request('GET', '/', 'example.com', [['x-b64', 'a']]), { endOfStream: true });
  assert.match(Buffer.from(bad.localResponse!.body).toString(), /\(invalid\)$/);
});

test('onTick runs every period once configured', async () => {
  const emu = await Emulator.load(wasm);
  assert.equal(emu.tickPeriodMs, 250);
  emu.advanceTime(1000);
  assert.deepEqual(emu.logsAt('info').filter((l) => l.includes('tick')), ['[sdk-probe] tick 1', '[sdk-probe] tick 2', '[sdk-probe] tick 3', '[sdk-probe] tick 4']);
});

test('an SDK plugin imports nothing but proxy-wasm host functions', async () => {
  const { moduleImports } = await import('../examples/helpers.js');
  for (const imp of moduleImports(wasm)) assert.match(imp, /^env\.proxy_/);
});

test('an abort inside the plugin is logged at CRITICAL and fails the stream by the fail strategy', async () => {
  const emu = await Emulator.load(wasm, { failStrategy: 'FAIL_CLOSE' });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/', 'example.com', [['x-abort', '1']]), { endOfStream: true });
  assert.equal(s.localResponse?.status, 503);
  assert.ok(emu.logsAt('critical').some((l) => /^plugin aborted: probe abort requested/.test(l)), JSON.stringify(emu.logs));
});

test('header values of every length and script reach the host intact (short ones go through the SDK scratch area)', async () => {
  for (const extra of ['ü', 'née-€-✓', 'x'.repeat(85), 'x'.repeat(86), `日本語${'é'.repeat(200)}`]) {
    const emu = await Emulator.load(wasm, { configuration: { name: 'n', extra } });
    const s = emu.stream();
    await s.requestHeaders(request('GET', '/'), { endOfStream: true });
    // Header values are bytes (the host keeps them as latin1 strings); the plugin wrote UTF-8.
    assert.equal(Buffer.from(s.requestHeader('x-extra')!, 'latin1').toString('utf8'), extra, `${extra.length} characters`);
    s.finish();
  }
});

const GRPC_CLUSTER = 'outbound|80||grpc.example';
const text = (b: Uint8Array): string => Buffer.from(b).toString();

test('GrpcClient.call: the answer (or the error status and message) reaches the callback in the calling stream', async () => {
  const emu = await Emulator.load(wasm, { knownClusters: [GRPC_CLUSTER] });
  let s = emu.stream();
  let p = s.requestHeaders(request('GET', '/', 'example.com', [['x-grpc-call', 'Say']]), { endOfStream: true });
  await emu.settle();
  const call = emu.grpcCalls[0]!;
  assert.deepEqual({ ...call.request, message: text(call.request.message) },
    { cluster: GRPC_CLUSTER, service: 'demo.Echo', method: 'Say', metadata: [['x-from', 'sdk-probe']], message: 'hello', timeoutMs: 2000 });
  await call.respond({ message: 'hi back' });
  let r = await p;
  assert.ok(r.kind === 'local' && r.response.status === 200 && text(r.response.body) === 'grpc:hi back', JSON.stringify(r));
  s.finish();

  s = emu.stream();
  p = s.requestHeaders(request('GET', '/', 'example.com', [['x-grpc-call', 'Deny']]), { endOfStream: true });
  await emu.settle();
  await emu.grpcCalls[1]!.respond({ status: 7, statusMessage: 'not allowed' });
  r = await p;
  assert.ok(r.kind === 'local' && r.response.status === 502 && text(r.response.body) === 'grpc status 7: not allowed', JSON.stringify(r));
  s.finish();
});

test('GrpcClient.stream: the handler hears metadata, messages, trailers and the close, and can send from them', async () => {
  const emu = await Emulator.load(wasm, { knownClusters: [GRPC_CLUSTER] });
  const s = emu.stream();
  const p = s.requestHeaders(request('GET', '/', 'example.com', [['x-grpc-stream', 'Chat']]), { endOfStream: true });
  await emu.settle();
  const g = emu.grpcStreams[0]!;
  assert.deepEqual(g.request, { cluster: GRPC_CLUSTER, service: 'demo.Echo', method: 'Chat', metadata: [['x-from', 'sdk-probe']] });
  await playChat(g);
  const r = await p;
  assert.ok(r.kind === 'local' && text(r.response.body) === CHAT_HEARD, JSON.stringify(r));
  s.finish();
});

test('a gRPC stream whose HTTP stream ended is reset at its next event; an unknown cluster is refused', async () => {
  const emu = await Emulator.load(wasm, { knownClusters: [GRPC_CLUSTER] });
  const s = emu.stream();
  void s.requestHeaders(request('GET', '/', 'example.com', [['x-grpc-stream', 'Chat']]), { endOfStream: true });
  await emu.settle();
  s.finish();
  const g = emu.grpcStreams[0]!;
  await g.message('echo:one');
  assert.equal(g.cancelled, true);
  assert.deepEqual(g.sent.map(text), ['one'], 'the handler did not run');

  const other = await Emulator.load(wasm, { knownClusters: ['outbound|80||elsewhere'] });
  const r = await other.stream().requestHeaders(request('GET', '/', 'example.com', [['x-grpc-call', 'Say']]), { endOfStream: true });
  assert.ok(r.kind === 'local' && r.response.status === 500, JSON.stringify(r));
  assert.ok(other.logsAt('error').some((l) => l.includes('grpc call to cluster outbound|80||grpc.example was refused')));
});
