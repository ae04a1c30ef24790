// The emulator as a plugin author uses it: load a .wasm, drive streams, inspect what happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Emulator } from '../../runtime/emulator/index.js';
import * as pkg from '../../runtime/index.js';
import { InMemorySharedState } from '../../runtime/host/index.js';
import { testPluginPath, getRequest } from '../host/helpers.js';

const PROBE = testPluginPath('probe');

test('loads from a path or from bytes, with an object configuration JSON-stringified', async () => {
  const a = await Emulator.load(PROBE, { configuration: { enabled: true } });
  assert.ok(a.logs.some((l) => l.message === 'configure: size=16 config={"enabled":true}'));
  const b = await Emulator.load(new Uint8Array(readFileSync(PROBE)), { name: 'from-bytes' });
  assert.equal(b.plugin.name, 'from-bytes');
  assert.ok(b.memoryBytes() >= 65536);
});

test('a stream exposes results, mutated headers, released bodies and the local response', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream({ routeName: 'r1' });
  const r = await s.requestHeaders([[':method', 'POST'], [':path', '/p'], [':authority', 'a.com'], [':scheme', 'http'], ['X-Op', 'add'], ['x-arg', 'yes']]);
  assert.equal(r.kind, 'continue');
  assert.equal(s.requestHeader('x-added'), 'yes');
  assert.equal(s.requestHeader('x-op'), 'add', 'header names are lower-cased on the way in');
  await s.requestBody('hello ', { endOfStream: false });
  await s.requestBody(new TextEncoder().encode('world'), { endOfStream: true });
  assert.equal(Buffer.from(s.requestBodyOut).toString(), 'hello world');
  assert.equal(s.results.length, 3);
  assert.equal(s.paused, false);
  s.finish();

  const s2 = emu.stream();
  await s2.requestHeaders(getRequest([['x-op', 'local'], ['x-arg', '429']]), { endOfStream: true });
  assert.equal(s2.localResponse?.status, 429);
  s2.finish();
});

test('logs by level, clearLogs and logsAt', async () => {
  const emu = await Emulator.load(PROBE, { configuration: 'stdout=to-stderr-too' });
  assert.deepEqual(emu.logsAt('error'), ['to-stderr-too']);
  assert.ok(emu.logsAt(2).includes('to-stderr-too'));
  assert.equal(emu.logs[0]!.levelName, 'INFO');
  emu.clearLogs();
  assert.equal(emu.logs.length, 0);
});

test('http calls are recorded and answered; the paused phase resolves after the answer', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream();
  const p = s.requestHeaders(getRequest([['x-op', 'http-call'], ['x-action', '1']]), { endOfStream: true });
  await emu.settle();
  assert.equal(s.paused, true);
  assert.equal(emu.httpCalls[0]!.answered, false);
  await emu.httpCalls[0]!.respond({ status: 200, headers: [['x-verdict', 'deny']], body: 'no' });
  assert.equal(emu.httpCalls[0]!.answered, true);
  await assert.rejects(emu.httpCalls[0]!.respond(), /already answered/);
  const r = await p;
  assert.equal(r.kind, 'local');
  assert.equal(s.localResponse?.status, 401);
  assert.equal(s.paused, false);
  s.finish();
});

test('metrics, shared data and queues are inspectable; one SharedState can be shared by two emulators', async () => {
  const shared = new InMemorySharedState();
  const a = await Emulator.load(PROBE, { shared, configuration: 'queue=events' });
  const b = await Emulator.load(PROBE, { shared });
  const s = b.stream();
  await s.requestHeaders(getRequest([['x-op', 'shared-set,metrics'], ['x-arg', 'from-b']]), { endOfStream: true });
  s.finish();
  assert.equal(Buffer.from(a.sharedData.get('k1')!.value).toString(), 'from-b');
  assert.equal(b.metric('probe_requests_total'), 2n);
  assert.equal(a.metric('probe_requests_total'), undefined, 'metrics are per emulator unless shared');
  assert.ok(b.metrics().some((m) => m.name === 'probe_latency_ms' && m.type === 'histogram'));
  // b enqueues on a's queue (same vm id ""): a's root hears about it.
  const q = b.stream();
  await q.requestHeaders(getRequest([['x-op', 'queue-resolve'], ['x-arg', 'events']]), { endOfStream: true });
  q.finish();
  assert.ok(b.logs.some((l) => /^queue-resolve: status=0 value=\d+$/.test(l.message)));
  const id = Number(/value=(\d+)/.exec(b.logs.find((l) => l.message.startsWith('queue-resolve'))!.message)![1]);
  shared.enqueue(id, Buffer.from('hello-a'));
  await a.settle();
  assert.ok(a.logs.some((l) => l.message === `queue_ready: status=0 value=${id}:hello-a`));
});

test('Emulator.chain runs several plugins in one stream', async () => {
  const a = await Emulator.load(PROBE, { name: 'a', configuration: 'skip-ops=1' });
  const b = await Emulator.load(PROBE, { name: 'b' });
  const s = Emulator.chain([a, b]).stream();
  await s.requestHeaders(getRequest([['x-op', 'add'], ['x-arg', 'chained']]), { endOfStream: true });
  assert.equal(s.requestHeader('x-added'), 'chained');
  await s.responseHeaders([[':status', '204']], { endOfStream: true });
  assert.equal(s.responseHeadersOut.filter((h) => h[0] === 'x-probe').length, 2);
  s.finish();
});

test('the package entry exports the host API and the emulator', () => {
  for (const name of ['PluginModule', 'Plugin', 'FilterChain', 'MetricRegistry', 'InMemorySharedState', 'HostError', 'PluginLoadError', 'PluginConfigureError', 'VmFailureError', 'Emulator']) {
    assert.equal(typeof (pkg as Record<string, unknown>)[name], 'function', name);
  }
});

test('UTF-8 header values from tests become byte strings, as on the wire', async () => {
  const emu = await Emulator.load(PROBE);
  const s = emu.stream();
  await s.requestHeaders(getRequest([['x-op', 'get-value'], ['x-arg', 'x-name'], ['x-name', 'héllo']]), { endOfStream: true });
  assert.ok(emu.logs.some((l) => l.message === 'get-value: status=0 value=héllo'), 'the plugin decodes the UTF-8 bytes');
  assert.equal(s.requestHeader('x-name'), Buffer.from('héllo').toString('latin1'));
  s.finish();
});
