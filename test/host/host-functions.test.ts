// Every proxy-wasm host function, including its error statuses, driven through the probe test
// plugin (test/plugins/probe: raw ABI calls, no SDK) in the real host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { WasmResult as S } from '../../spec/index.js';
import { testPluginPath, getRequest, playChat, CHAT_HEARD } from './helpers.js';
import type { HeaderList } from '../../runtime/host/types.js';
import { MemoryView } from '../../runtime/host/memory-view.js';
import { Wasm } from '../../runtime/host/wasm-api.js';

const PROBE = testPluginPath('probe');

/** Runs `ops` in on_request_headers; returns op → {status, value} from the probe's log lines. */
async function probe(emu: Emulator, ops: string, arg = '', extra: HeaderList = [], info = {}) {
  emu.clearLogs();
  const s = emu.stream(info);
  const result = await s.requestHeaders(getRequest([['x-op', ops], ['x-arg', arg], ...extra], '/a/b?x=1&y=2'), { endOfStream: true });
  const out = new Map<string, { status: number; value: string }>();
  for (const l of emu.logs) {
    const m = /^([\w-]+): status=(\d+) value=(.*)$/s.exec(l.message);
    if (m) out.set(m[1]!, { status: Number(m[2]), value: m[3]! });
  }
  return { out, result, stream: s };
}

test('header map calls read, add, replace, remove and set the request headers', async () => {
  const emu = await Emulator.load(PROBE);
  let { out, result, stream } = await probe(emu, 'get-pairs,get-value', 'x-arg');
  assert.equal(out.get('get-pairs')!.status, S.OK);
  assert.match(out.get('get-pairs')!.value, /^:method=GET;:path=\/a\/b\?x=1&y=2;:authority=example.com;:scheme=http;x-op=/);
  assert.deepEqual(out.get('get-value'), { status: S.OK, value: 'x-arg' });
  stream.finish();

  ({ out, result, stream } = await probe(emu, 'add', 'v1'));
  assert.equal(out.get('add')!.status, S.OK);
  assert.equal(result.kind, 'continue');
  assert.deepEqual(stream.requestHeadersOut.filter((h) => h[0] === 'x-added'), [['x-added', 'v1']]);
  stream.finish();

  ({ out, stream } = await probe(emu, 'replace', 'x-dup', [['x-dup', 'a'], ['X-Dup', 'b']]));
  assert.equal(out.get('replace')!.status, S.OK);
  assert.deepEqual(stream.requestHeadersOut.filter((h) => h[0] === 'x-dup'), [['x-dup', 'replaced']]);
  stream.finish();

  ({ out, stream } = await probe(emu, 'remove', 'x-gone', [['x-gone', '1'], ['x-gone', '2']]));
  assert.equal(out.get('remove')!.status, S.OK);
  assert.equal(stream.requestHeader('x-gone'), undefined);
  stream.finish();

  ({ out, stream } = await probe(emu, 'set-pairs'));
  assert.equal(out.get('set-pairs')!.status, S.OK);
  assert.deepEqual(stream.requestHeadersOut, [[':method', 'PUT'], [':path', '/set'], [':authority', 'set.example'], ['x-only', '1']]);
  stream.finish();

  ({ out } = await probe(emu, 'get-value', 'x-missing'));
  assert.equal(out.get('get-value')!.status, S.NOT_FOUND);
  ({ out } = await probe(emu, 'get-size', '0'));
  assert.equal(out.get('get-size')!.status, S.OK);
  assert.ok(Number(out.get('get-size')!.value) > 40);
});

test('header map errors: bad map type, read-only maps, malformed pairs', async () => {
  const emu = await Emulator.load(PROBE);
  const { out } = await probe(emu, 'bad-map,bad-pairs');
  assert.equal(out.get('bad-map')!.status, S.BAD_ARGUMENT);
  assert.equal(out.get('bad-map-add')!.status, S.BAD_ARGUMENT, 'the http-call response map is not writable from a stream');
  assert.equal(out.get('resp-map-in-request')!.status, S.NOT_FOUND, 'response headers do not exist during the request');
  assert.equal(out.get('bad-pairs')!.status, S.PARSE_FAILURE);
});

test('every pointer-taking host call answers INVALID_MEMORY_ACCESS for an out-of-range pointer', async () => {
  const emu = await Emulator.load(PROBE);
  const { out, result } = await probe(emu, 'bad-ptr');
  const statuses = out.get('bad-ptr')!.value.split(',').map(Number);
  assert.equal(statuses.length, 16);
  for (const st of statuses) assert.equal(st, S.INVALID_MEMORY_ACCESS);
  assert.equal(result.kind, 'continue', 'the host survived and the stream went on');
  assert.equal(emu.plugin.state, 'ready');
});

test('properties come from the headers, the stream info and the plugin', async () => {
  const emu = await Emulator.load(PROBE, { name: 'probe-x', vmId: 'vm-7' });
  const info = { routeName: 'default/route-a', clusterName: 'outbound|80||svc.default.svc.cluster.local', sourceAddress: '10.1.2.3', sourcePort: 4567, requestId: 'rid-1', protocol: 'HTTP/2', upstreamAddress: '10.9.9.9:80' };
  const expect: Record<string, string> = {
    'request.path': '/a/b?x=1&y=2', 'request.url_path': '/a/b', 'request.query': 'x=1&y=2', 'request.host': 'example.com',
    'request.method': 'GET', 'request.scheme': 'http', 'request.id': 'rid-1', 'request.protocol': 'HTTP/2',
    'source.address': '10.1.2.3:4567', 'source.port': 'int:4567', 'destination.port': 'int:8080', 'route_name': 'default/route-a',
    'cluster_name': 'outbound|80||svc.default.svc.cluster.local', 'plugin_name': 'probe-x', 'plugin_root_id': 'probe-x',
    'plugin_vm_id': 'vm-7', 'upstream.address': '10.9.9.9:80', 'connection.id': 'int:1', 'listener_direction': 'int:2',
  };
  for (const [name, value] of Object.entries(expect)) {
    const { out, stream } = await probe(emu, 'property', name, [], info);
    assert.deepEqual(out.get('property'), { status: S.OK, value }, name);
    stream.finish();
  }
  const { out: t } = await probe(emu, 'property', 'request.time');
  assert.equal(t.get('property')!.value, `int:${emu.nowNs}`);
  const { out: h } = await probe(emu, 'property', 'request.headers');
  assert.match(h.get('property')!.value, /^:method=GET;:path=/);
  const { out: u } = await probe(emu, 'property', 'no.such.property');
  assert.equal(u.get('property')!.status, S.NOT_FOUND);
  const other = await Emulator.load(PROBE, { name: 'display-name', rootId: 'root-7' });
  const { out: r } = await probe(other, 'property', 'plugin_root_id');
  assert.equal(r.get('property')!.value, 'root-7');
  const { out: sp } = await probe(emu, 'set-property', 'hello');
  assert.deepEqual(sp.get('set-property'), { status: S.OK, value: 'hello' });
});

test('local responses: status, headers, body and details reach the proxy; a bad status is refused', async () => {
  const emu = await Emulator.load(PROBE);
  const { result, out } = await probe(emu, 'local', '451');
  assert.equal(out.get('local')!.status, S.OK);
  assert.equal(result.kind, 'local');
  if (result.kind !== 'local') return;
  assert.equal(result.response.status, 451);
  assert.deepEqual(result.response.headers, [['x-local', '1'], ['content-type', 'text/plain']]);
  assert.equal(Buffer.from(result.response.body).toString(), 'denied by probe');
  assert.equal(result.response.details, 'probe_denied');
  const { out: bad } = await probe(emu, 'local-bad');
  assert.equal(bad.get('local-bad')!.status, S.BAD_ARGUMENT);
});

test('proxy_http_call: request reaches the gateway, the answer reaches the root context, the stream resumes', async () => {
  const emu = await Emulator.load(PROBE, { knownClusters: ['outbound|80||auth.example'] });
  const s = emu.stream();
  const p = s.requestHeaders(getRequest([['x-op', 'http-call'], ['x-action', '1']]), { endOfStream: true });
  await emu.settle();
  assert.equal(s.paused, true);
  assert.equal(emu.httpCalls.length, 1);
  const call = emu.httpCalls[0]!;
  assert.equal(call.request.cluster, 'outbound|80||auth.example');
  assert.equal(call.request.timeoutMs, 1500);
  assert.equal(Buffer.from(call.request.body).toString(), 'payload');
  assert.deepEqual(call.request.headers[3], ['x-from', 'probe']);
  await call.respond({ status: 200, headers: [['x-verdict', 'ok']], body: 'alice' });
  const r = await p;
  assert.equal(r.kind, 'continue');
  assert.equal(s.requestHeader('x-auth'), 'alice');
  const delivered = emu.logs.find((l) => l.message.startsWith('http_call_response'))!.message;
  assert.match(delivered, /root=1 id=\d+ headers=2 body_size=5/);
  assert.ok(emu.logs.some((l) => l.message === 'http_call_data: headers=:status=200;x-verdict=ok body=alice status=0'));
  s.finish();
});

test('proxy_http_call errors: missing pseudo-headers, unknown cluster; a failed call reports zero headers', async () => {
  const emu = await Emulator.load(PROBE, { knownClusters: ['outbound|80||auth.example'] });
  let { out, stream } = await probe(emu, 'http-call-missing');
  assert.equal(out.get('http-call-missing')!.status, S.BAD_ARGUMENT);
  stream.finish();
  ({ out, stream } = await probe(emu, 'http-call', 'outbound|80||nowhere'));
  assert.equal(out.get('http-call')!.status, S.BAD_ARGUMENT);
  stream.finish();
  assert.equal(emu.httpCalls.length, 0);

  const s = emu.stream();
  const p = s.requestHeaders(getRequest([['x-op', 'http-call'], ['x-action', '1']]), { endOfStream: true });
  await emu.settle();
  await emu.httpCalls[0]!.respond();
  const r = await p;
  assert.equal(r.kind, 'local');
  if (r.kind === 'local') assert.equal(r.response.status, 503);
  assert.ok(emu.logs.some((l) => /headers=0 body_size=0/.test(l.message)));
});

test('proxy_grpc_call: the call reaches the host; OK reaches proxy_on_grpc_receive, an error proxy_on_grpc_close', async () => {
  const emu = await Emulator.load(PROBE, { knownClusters: ['outbound|80||grpc.example'] });
  let s = emu.stream();
  let p = s.requestHeaders(getRequest([['x-op', 'grpc-call'], ['x-action', '1']]), { endOfStream: true });
  await emu.settle();
  assert.equal(s.paused, true);
  const call = emu.grpcCalls[0]!;
  assert.deepEqual({ ...call.request, message: Buffer.from(call.request.message).toString() }, {
    cluster: 'outbound|80||grpc.example', service: 'demo.Echo', method: 'Say', metadata: [['x-from', 'probe']], message: 'hello from probe', timeoutMs: 2000,
  });
  await call.respond({ message: 'hi back' });
  let r = await p;
  assert.equal(r.kind, 'local');
  if (r.kind === 'local') assert.equal(Buffer.from(r.response.body).toString(), 'grpc:hi back');
  assert.ok(emu.logs.some((l) => /^grpc_receive: root=1 id=\d+ size=7 body=hi back$/.test(l.message)));
  s.finish();

  s = emu.stream();
  p = s.requestHeaders(getRequest([['x-op', 'grpc-call'], ['x-action', '1']]), { endOfStream: true });
  await emu.settle();
  await emu.grpcCalls[1]!.respond({ status: 7, statusMessage: 'denied' });
  r = await p;
  assert.equal(r.kind, 'local');
  if (r.kind === 'local') {
    assert.equal(r.response.status, 502);
    assert.equal(Buffer.from(r.response.body).toString(), 'grpc status 7: denied');
  }
  s.finish();
});

test('proxy_grpc_call errors and cancel', async () => {
  const emu = await Emulator.load(PROBE, { knownClusters: ['outbound|80||grpc.example'] });
  // Unknown cluster (call and stream); no call or stream 1; a call cancelled at once gets no callback.
  let { out, stream } = await probe(emu, 'grpc');
  assert.equal(out.get('grpc')!.value, [S.BAD_ARGUMENT, S.BAD_ARGUMENT, S.NOT_FOUND, S.NOT_FOUND, S.NOT_FOUND].join(','));
  stream.finish();
  ({ out, stream } = await probe(emu, 'grpc-cancel'));
  assert.equal(out.get('grpc-cancel')!.status, S.OK);
  assert.equal(out.get('cancel')!.status, S.OK);
  await emu.grpcCalls[0]!.respond({ message: 'too late' });
  assert.ok(!emu.logs.some((l) => l.message.startsWith('grpc_receive')), 'no callback after cancel');
  stream.finish();
});

const text = (b: Uint8Array): string => Buffer.from(b).toString();

test('proxy_grpc_stream: messages both ways, initial and trailing metadata (maps 4 and 5), then proxy_on_grpc_close', async () => {
  const emu = await Emulator.load(PROBE, { knownClusters: ['outbound|80||grpc.example'] });
  const s = emu.stream();
  const p = s.requestHeaders(getRequest([['x-op', 'grpc-stream'], ['x-action', '1']]), { endOfStream: true });
  await emu.settle();
  assert.equal(s.paused, true);
  const g = emu.grpcStreams[0]!;
  assert.deepEqual(g.request, { cluster: 'outbound|80||grpc.example', service: 'demo.Echo', method: 'Chat', metadata: [['x-from', 'probe']] });
  await playChat(g);
  const r = await p;
  assert.equal(r.kind, 'local');
  if (r.kind === 'local') assert.equal(text(r.response.body), CHAT_HEARD);
  s.finish();
});

test('proxy_grpc_stream: an error status reaches proxy_on_grpc_close with its message; a cancelled stream hears nothing more', async () => {
  const emu = await Emulator.load(PROBE, { knownClusters: ['outbound|80||grpc.example'] });
  const s = emu.stream();
  const p = s.requestHeaders(getRequest([['x-op', 'grpc-stream-close'], ['x-action', '1']]), { endOfStream: true });
  await emu.settle();
  const g = emu.grpcStreams[0]!;
  assert.equal(g.localClosed, true, 'proxy_grpc_close half-closes');
  await g.initialMetadata();
  await g.close(7, 'denied');
  const r = await p;
  if (r.kind === 'local') assert.equal(text(r.response.body), 'md:none;close:7:denied');
  else assert.fail(`expected a local response, got ${r.kind}`);
  s.finish();

  const { out, stream } = await probe(emu, 'grpc-stream-cancel');
  assert.deepEqual([out.get('grpc-stream-cancel')!.status, out.get('send')!.status, out.get('cancel')!.status, out.get('send-after-cancel')!.status],
    [S.OK, S.OK, S.OK, S.NOT_FOUND]);
  const c = emu.grpcStreams[1]!;
  assert.equal(c.cancelled, true);
  await c.message('too late');
  await c.close(0);
  assert.ok(!emu.logs.some((l) => /^grpc_(receive|close)/.test(l.message)), 'no callback after cancel');
  stream.finish();
});

test('a VM that fails resets its open gRPC streams', async () => {
  const emu = await Emulator.load(PROBE, { knownClusters: ['outbound|80||grpc.example'] });
  const s = emu.stream();
  void s.requestHeaders(getRequest([['x-op', 'grpc-stream'], ['x-action', '1']]), { endOfStream: true });
  await emu.settle();
  const g = emu.grpcStreams[0]!;
  assert.equal(g.cancelled, false);
  await probe(emu, 'trap');
  assert.equal(g.cancelled, true);
});

test('shared data: get/set with CAS, NOT_FOUND and CAS_MISMATCH', async () => {
  const emu = await Emulator.load(PROBE);
  let { out } = await probe(emu, 'shared-get');
  assert.equal(out.get('shared-get')!.status, S.NOT_FOUND);
  ({ out } = await probe(emu, 'shared-set', 'v1'));
  assert.equal(out.get('shared-set')!.status, S.OK);
  ({ out } = await probe(emu, 'shared-get'));
  assert.match(out.get('shared-get')!.value, /^v1@\d+$/);
  ({ out } = await probe(emu, 'shared-cas'));
  assert.equal(out.get('shared-cas')!.value, `${S.OK},${S.CAS_MISMATCH}`);
  assert.equal(Buffer.from(emu.sharedData.get('k1')!.value).toString(), 'first');
});

test('shared queues: register, resolve, enqueue → on_queue_ready, dequeue, EMPTY and NOT_FOUND', async () => {
  const emu = await Emulator.load(PROBE, { configuration: 'queue=jobs' });
  assert.ok(emu.logs.some((l) => /^register_queue: status=0 value=\d+$/.test(l.message)));
  let { out } = await probe(emu, 'queue-resolve', 'jobs');
  assert.equal(out.get('queue-resolve')!.status, S.OK);
  ({ out } = await probe(emu, 'queue-resolve', 'nope'));
  assert.equal(out.get('queue-resolve')!.status, S.NOT_FOUND);
  ({ out } = await probe(emu, 'queue-enqueue', 'job-1'));
  assert.equal(out.get('queue-enqueue')!.status, S.OK);
  await emu.settle();
  assert.ok(emu.logs.some((l) => /^queue_ready: status=0 value=\d+:job-1$/.test(l.message)));
  assert.ok(emu.logs.some((l) => l.message === `dequeue_empty: status=${S.EMPTY} value=`));
  ({ out } = await probe(emu, 'queue-bad'));
  assert.equal(out.get('queue-bad')!.value, `${S.NOT_FOUND},${S.NOT_FOUND}`);
});

test('metrics: counter, gauge and histogram with their error statuses, readable by the gateway', async () => {
  const emu = await Emulator.load(PROBE);
  const { out } = await probe(emu, 'metrics');
  assert.equal(out.get('metrics')!.value, [S.OK, S.BAD_ARGUMENT, S.OK, S.OK, S.OK, S.BAD_ARGUMENT, '0:2', '0:3', S.BAD_ARGUMENT, S.NOT_FOUND, S.BAD_ARGUMENT, S.OK].join(','));
  assert.equal(emu.metric('probe_requests_total'), 2n);
  assert.equal(emu.metric('probe_inflight'), 9n);
  const hist = emu.metrics().find((m) => m.name === 'probe_latency_ms')!;
  assert.equal(hist.type, 'histogram');
  assert.equal(hist.histogram!.count, 1);
  assert.equal(hist.histogram!.sum, 42);
  assert.deepEqual(hist.histogram!.buckets.find((b) => b[0] === 50), [50, 1]);
  assert.deepEqual(hist.histogram!.buckets.find((b) => b[0] === 25), [25, 0]);
});

test('foreign functions: a registered one answers, an unknown name is NOT_FOUND', async () => {
  const emu = await Emulator.load(PROBE, {
    foreignFunctions: { echo: (a) => new Uint8Array([...Buffer.from('echo:'), ...a]), broken: () => { throw new Error('nope'); } },
  });
  let { out } = await probe(emu, 'foreign', 'echo');
  assert.deepEqual(out.get('foreign'), { status: S.OK, value: 'echo:args' });
  ({ out } = await probe(emu, 'foreign', 'missing'));
  assert.equal(out.get('foreign')!.status, S.NOT_FOUND);
  ({ out } = await probe(emu, 'foreign', 'broken'));
  assert.equal(out.get('foreign')!.status, S.INTERNAL_FAILURE);
  assert.ok(emu.logs.some((l) => l.message === 'foreign function failed: nope'));
  emu.plugin.callForeignFunction(7, Buffer.from('data'));
  assert.ok(emu.logs.some((l) => l.message === 'foreign_callback: status=0 value=7:data'));
});

test('time, log level, status, effective context, proxy_done, buffers and WASI calls', async () => {
  const emu = await Emulator.load(PROBE, { logLevel: 3, env: { MODE: 'test' }, startTimeNs: 1_700_000_000_000_000_000n });
  const { out } = await probe(emu, 'time,log-level,status,done,effective,buffer-status,missing-buffer,wasi-env,random');
  assert.equal(out.get('time')!.value, `1700000000000000000 wasi=0`);
  assert.equal(out.get('log-level')!.value, `3 bad_level=${S.BAD_ARGUMENT}`);
  assert.deepEqual(out.get('status'), { status: S.OK, value: '0' });
  assert.equal(out.get('effective')!.value, `${S.OK},${S.BAD_ARGUMENT}`);
  assert.equal(out.get('done')!.status, S.BAD_ARGUMENT, 'proxy_done is for the root context');
  assert.deepEqual(out.get('buffer-status'), { status: S.OK, value: '0' });
  assert.equal(out.get('missing-buffer')!.value, `${S.NOT_FOUND},${S.NOT_FOUND}`);
  assert.deepEqual(out.get('wasi-env'), { status: 0, value: '1:MODE=test' });
  assert.equal(out.get('random')!.status, 0);
});

test('WASI stdout/stderr become plugin logs (info / error); bad fds and iovecs get errno', async () => {
  const emu = await Emulator.load(PROBE, { configuration: 'stdout=hello from wasi' });
  const lines = emu.logs.filter((l) => l.message === 'hello from wasi').map((l) => l.levelName);
  assert.deepEqual(lines, ['INFO', 'ERROR']);
  assert.ok(emu.logs.some((l) => l.message === 'fd_write_bad_fd: status=8 value='));
  assert.ok(emu.logs.some((l) => l.message === 'fd_write_bad_iov: status=21 value='));
});

test('configuration buffers: VM and plugin configuration reach on_vm_start / on_configure', async () => {
  const emu = await Emulator.load(PROBE, { configuration: { a: 1 }, vmConfiguration: 'vm-cfg' });
  assert.ok(emu.logs.some((l) => l.message === 'vm_start: root=1 size=6 vm_config=vm-cfg'));
  assert.ok(emu.logs.some((l) => l.message === 'configure: size=7 config={"a":1}'));
});

test('header names a plugin passes decode to themselves, lower-cased, however many share the name cache', () => {
  const mem = new MemoryView(new Wasm.Memory({ initial: 1 }));
  mem.refresh();
  const names = Array.from({ length: 700 }, (_, i) => `X-Name-${i}${i % 3 ? '' : '-LONGER'}`);
  const at = (s: string) => { mem.u8.set(Buffer.from(s, 'latin1'), 100); return mem.headerName(100, s.length); };
  for (const round of [names, [...names].reverse(), names.map((n) => n.toLowerCase())]) {
    for (const n of round) assert.equal(at(n), n.toLowerCase());
  }
  assert.equal(at(''), '');
  assert.equal(at('Ab'.repeat(40)), 'ab'.repeat(40));
});
