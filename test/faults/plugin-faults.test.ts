// Plugin faults through the real gateway: each route runs one deliberately broken plugin (from
// test/fault-plugins) with a fail strategy, and real HTTP requests provoke the fault. For each:
// the gateway stays up, other routes are unaffected, the route behaves as its fail strategy says,
// and the event shows in /stats/prometheus and in the log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { faultPlugin, type FaultKind } from '../fault-plugins/fault-plugins.js';
import { activeStreams, captureStderr, eventually, gateway, once, prometheus, raw, sample, send, serviceYaml, tempDir, upstream, type TestGateway, type Upstream } from './harness.js';

type Strategy = 'FAIL_CLOSE' | 'FAIL_OPEN' | 'FAIL_RELOAD';
const ROUTES: Array<[string, FaultKind, Strategy]> = [
  ['trap-rqh-close', 'trap-request-headers', 'FAIL_CLOSE'],
  ['trap-rqh-open', 'trap-request-headers', 'FAIL_OPEN'],
  ['trap-rqh-reload', 'trap-request-headers', 'FAIL_RELOAD'],
  ['trap-rqb-close', 'trap-request-body', 'FAIL_CLOSE'],
  ['trap-rsh-close', 'trap-response-headers', 'FAIL_CLOSE'],
  ['trap-rsb-close', 'trap-response-body', 'FAIL_CLOSE'],
  ['trap-log-open', 'trap-log', 'FAIL_OPEN'],
  ['proc-exit-reload', 'proc-exit', 'FAIL_RELOAD'],
  ['memory-reload', 'memory-growth', 'FAIL_RELOAD'],
  ['huge-alloc', 'huge-allocation', 'FAIL_CLOSE'],
  ['oob', 'out-of-range-pointers', 'FAIL_CLOSE'],
  ['crlf', 'crlf-headers', 'FAIL_CLOSE'],
  ['crlf-resp', 'crlf-response-headers', 'FAIL_CLOSE'],
  ['utf8', 'invalid-utf8-headers', 'FAIL_CLOSE'],
  ['call-unknown', 'http-call-unknown-cluster', 'FAIL_CLOSE'],
  ['late-local', 'local-response-after-headers', 'FAIL_CLOSE'],
  ['crlf-local', 'crlf-local-reply', 'FAIL_CLOSE'],
  ['bad-status', 'bad-status', 'FAIL_CLOSE'],
  ['no-pseudo', 'remove-pseudo-headers', 'FAIL_CLOSE'],
];
const MEMORY_LIMIT = 8 * 1024 * 1024;

let up: Upstream;
let dir: Awaited<ReturnType<typeof tempDir>>;
let gw: TestGateway;
let log: ReturnType<typeof captureStderr>;
let accessLog = '';

before(async () => {
  up = await upstream();
  dir = await tempDir('faults-');
  accessLog = `${dir.dir}/access.log`;
  const plugins: string[] = [];
  const routes: string[] = ['  - { name: default/ok, path: /ok, service: up.svc }'];
  for (const [name, kind, strategy] of ROUTES) {
    const url = await faultPlugin(dir.dir, kind);
    routes.push(`  - { name: default/${name}, path: /${name}, service: up.svc }`);
    plugins.push(`  - { name: ${name}, url: "${url}", failStrategy: ${strategy}, configDisable: true, rules: [{ routes: [default/${name}] }] }`);
  }
  await dir.write('gw.yaml', `${serviceYaml(up.port)}settings:\n  accessLog: "${accessLog}"\n  pluginMemoryLimitBytes: ${MEMORY_LIMIT}\nroutes:\n${routes.join('\n')}\nplugins:\n${plugins.join('\n')}\n`);
  log = captureStderr();
  gw = await gateway([`${dir.dir}/gw.yaml`]);
});

after(async () => {
  log?.stop();
  await gw?.close();
  await up?.close();
  await dir?.remove();
});

const FAULT = { 'x-fault': '1' };

async function failures(plugin: string): Promise<number> {
  return sample(await prometheus(gw), `gateway_plugin_failures_total{plugin="${plugin}"}`) ?? -1;
}

async function otherRoutesServe(): Promise<void> {
  const r = await send(`${gw.url}/ok`);
  assert.equal(r.status, 200, 'a route without the plugin is unaffected');
}

function logged(plugin: string, pattern: RegExp): boolean {
  return log.text().split('\n').some((l) => l.includes(`[plugin ${plugin}]`) && pattern.test(l));
}

for (const [route, callback] of [['trap-rqh-close', 'proxy_on_request_headers'], ['trap-rsh-close', 'proxy_on_response_headers']] as const) {
  test(`a trap in ${callback} with FAIL_CLOSE answers 503 now and for later requests; other routes serve`, async () => {
    assert.equal((await send(`${gw.url}/${route}`)).status, 200, 'healthy before the fault');
    const r = await send(`${gw.url}/${route}`, { headers: FAULT });
    assert.equal(r.status, 503);
    assert.equal((await send(`${gw.url}/${route}`)).status, 503, 'a failed VM stays failed under FAIL_CLOSE');
    await otherRoutesServe();
    assert.equal(await failures(route), 1);
    assert.match(await prometheus(gw), new RegExp(`gateway_plugin_vm_ready\\{plugin="${route}",state="failed"\\} 0`));
    assert.ok(logged(route, new RegExp(`\\[error\\].*${callback}.*unreachable`)), 'the trap is in the log with the callback');
  });
}

test('a trap in proxy_on_request_body with FAIL_CLOSE answers 503 to the upload; other routes serve', async () => {
  const r = await send(`${gw.url}/trap-rqb-close`, { method: 'POST', headers: FAULT, body: 'x'.repeat(1000) });
  assert.equal(r.status, 503);
  await otherRoutesServe();
  assert.equal(await failures('trap-rqb-close'), 1);
  assert.ok(logged('trap-rqb-close', /proxy_on_request_body/));
  await eventually(async () => (await readFile(accessLog, 'utf8')).includes('"path":"/trap-rqb-close"'), 2000, 'the access log line');
  const line = (await readFile(accessLog, 'utf8')).split('\n').find((l) => l.includes('"path":"/trap-rqb-close"'))!;
  assert.match(line, /"status":503/);
  assert.doesNotMatch(line, /upstream_reset/, 'the plugin failure is not blamed on the upstream');
});

test('a trap in proxy_on_response_body after the headers were sent resets the stream; the gateway keeps serving', async () => {
  const r = await once(`${gw.url}/trap-rsb-close`, { headers: FAULT });
  assert.ok(r.error || r.status === 0 || r.text === '', `the client sees a broken response, not a clean one (${JSON.stringify(r)})`);
  await otherRoutesServe();
  assert.equal(await failures('trap-rsb-close'), 1);
  assert.ok(logged('trap-rsb-close', /proxy_on_response_body/));
  assert.equal((await send(`${gw.url}/trap-rsb-close`)).status, 503, 'FAIL_CLOSE: later requests are refused');
});

test('a trap in proxy_on_request_headers with FAIL_OPEN bypasses the plugin for that and later requests', async () => {
  const r = await send(`${gw.url}/trap-rqh-open`, { headers: FAULT });
  assert.equal(r.status, 200);
  assert.equal((await send(`${gw.url}/trap-rqh-open`)).status, 200);
  assert.equal(await failures('trap-rqh-open'), 1);
  assert.ok(logged('trap-rqh-open', /unreachable/));
});

test('a trap in proxy_on_request_headers with FAIL_RELOAD answers 503, then recovers on a fresh VM after the backoff', async () => {
  assert.equal((await send(`${gw.url}/trap-rqh-reload`, { headers: FAULT })).status, 503);
  assert.equal((await send(`${gw.url}/trap-rqh-reload`)).status, 503, 'inside the 1 s backoff');
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await send(`${gw.url}/trap-rqh-reload`)).status, 200, 'fresh VM after the backoff');
  const prom = await prometheus(gw);
  assert.equal(sample(prom, 'gateway_plugin_vm_reloads_total{plugin="trap-rqh-reload",result="ok"}'), 1);
  assert.ok(logged('trap-rqh-reload', /VM reloaded after failure/));
});

test('proc_exit from a plugin ends only its VM: 503, then FAIL_RELOAD brings a fresh VM', async () => {
  assert.equal((await send(`${gw.url}/proc-exit-reload`, { headers: FAULT })).status, 503);
  await otherRoutesServe();
  assert.ok(logged('proc-exit-reload', /proc_exit\(3\)/));
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await send(`${gw.url}/proc-exit-reload`)).status, 200);
  assert.equal(await failures('proc-exit-reload'), 1);
});

test('unbounded memory growth hits the memory cap, the plugin dies, FAIL_RELOAD recovers; gateway RSS stays bounded', async () => {
  const rss0 = process.memoryUsage().rss;
  assert.equal((await send(`${gw.url}/memory-reload`, { headers: FAULT })).status, 503);
  const grown = process.memoryUsage().rss - rss0;
  assert.ok(grown < 6 * MEMORY_LIMIT, `RSS grew ${grown} bytes for a plugin capped at ${MEMORY_LIMIT}`);
  await otherRoutesServe();
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await send(`${gw.url}/memory-reload`)).status, 200);
  assert.equal(await failures('memory-reload'), 1);
});

test('a huge allocation (memory.grow of 2 GiB) is refused by the cap and the plugin carries on', async () => {
  const rss0 = process.memoryUsage().rss;
  const r = await send(`${gw.url}/huge-alloc`, { headers: FAULT });
  assert.equal(r.status, 200);
  assert.equal(up.seen.at(-1)!.headers['x-result'], 'Z', 'memory.grow answered -1');
  assert.ok(process.memoryUsage().rss - rss0 < 64 * 1024 * 1024);
  assert.match(await prometheus(gw), /gateway_plugin_vm_ready\{plugin="huge-alloc",state="ready"\} 1/);
});

test('out-of-range pointers to 20 host functions each get INVALID_MEMORY_ACCESS; nothing is sent, the plugin carries on', async () => {
  const r = await send(`${gw.url}/oob`, { headers: FAULT });
  assert.equal(r.status, 200, 'the bad proxy_send_local_response did not answer 403');
  const codes = String(up.seen.at(-1)!.headers['x-result']);
  assert.equal(codes.length, 20);
  const wrong = [...codes].map((c, i) => [i, c.charCodeAt(0) - 65] as const).filter(([, c]) => c !== 6);
  assert.deepEqual(wrong, [], 'call index → WasmResult for calls that did not answer INVALID_MEMORY_ACCESS (6)');
  assert.equal(await failures('oob'), 0);
});

for (const [route, where] of [['crlf', 'request (upstream-bound)'], ['crlf-resp', 'response (client-bound)']] as const) {
  test(`CR/LF in ${where} header names and values a plugin sets never reaches the wire`, async () => {
    const before = up.seen.length;
    const wire = await raw(gw.port, `GET /${route} HTTP/1.1\r\nHost: a\r\nx-fault: 1\r\nConnection: close\r\n\r\n`, 800);
    assert.doesNotMatch(wire, /x-injected/i, `downstream bytes: ${wire.slice(0, 400)}`);
    for (const s of up.seen.slice(before)) {
      assert.equal(s.rawHeaders.some((h) => /x-injected|\r|\n/i.test(h)), false, `upstream got ${JSON.stringify(s.rawHeaders)}`);
    }
    assert.match(wire, /^HTTP\/1\.1 500 /, 'the client gets an error answer, not a split response');
    assert.match(wire, /x-gateway-detail: invalid_header/i, 'blamed on the header, not on the upstream');
    await otherRoutesServe();
    assert.equal((await send(`${gw.url}/${route}`)).status, 200, 'the route serves requests that do not trigger the fault');
  });
}

test('CR/LF in the headers of a plugin\'s local reply never reaches the wire', async () => {
  const wire = await raw(gw.port, 'GET /crlf-local HTTP/1.1\r\nHost: a\r\nx-fault: 1\r\nConnection: close\r\n\r\n', 800);
  assert.doesNotMatch(wire, /x-injected/i, wire.slice(0, 400));
  assert.match(wire, /^HTTP\/1\.1 (403|5\d\d) /, wire.slice(0, 200));
  await otherRoutesServe();
});

test('a plugin setting :status to a non-number gets the client an error answer, not a crash', async () => {
  const wire = await raw(gw.port, 'GET /bad-status HTTP/1.1\r\nHost: a\r\nx-fault: 1\r\nConnection: close\r\n\r\n', 800);
  assert.match(wire, /^HTTP\/1\.1 5\d\d /, wire.slice(0, 200));
  await otherRoutesServe();
  assert.equal((await send(`${gw.url}/bad-status`)).status, 200);
});

test('a plugin removing :path, :authority and :method gets the client an error answer, not a crash', async () => {
  const r = await send(`${gw.url}/no-pseudo`, { headers: FAULT });
  assert.ok(r.status >= 400 || r.error, JSON.stringify(r));
  await otherRoutesServe();
  assert.equal((await send(`${gw.url}/no-pseudo`)).status, 200);
});

test('invalid UTF-8 in header values a plugin sets does not crash the gateway', async () => {
  const r = await raw(gw.port, 'GET /utf8 HTTP/1.1\r\nHost: a\r\nx-fault: 1\r\nConnection: close\r\n\r\n', 800);
  assert.match(r, /^HTTP\/1\.1 \d{3} /);
  await otherRoutesServe();
});

test('http_call to a cluster the config does not define is refused with BAD_ARGUMENT; the request proceeds', async () => {
  const r = await send(`${gw.url}/call-unknown`, { headers: FAULT });
  assert.equal(r.status, 200);
  assert.equal(up.seen.at(-1)!.headers['x-result'], 'C', 'proxy_http_call returned BAD_ARGUMENT (2)');
});

test('a local response after the response headers were sent is refused; the client gets the intact upstream answer', async () => {
  const r = await once(`${gw.url}/late-local`, { headers: FAULT });
  assert.equal(r.error, undefined);
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.text), { ok: true, bodyBytes: 0 }, 'the late "late" body never replaces or corrupts the sent one');
  await otherRoutesServe();
  await eventually(async () => (await readFile(accessLog, 'utf8')).includes('"path":"/late-local"'), 2000, 'the access log line');
  assert.equal((await send(`${gw.url}/late-local`)).status, 200, 'the plugin is still healthy');
});

test('a trap in proxy_on_log after the response is contained: the client got its answer', async () => {
  const r = await send(`${gw.url}/trap-log-open`, { headers: FAULT });
  assert.equal(r.status, 200);
  await eventually(() => logged('trap-log-open', /proxy_on_log/), 2000, 'the on_log trap in the log');
  assert.equal((await send(`${gw.url}/trap-log-open`)).status, 200, 'FAIL_OPEN: bypassed afterwards');
  await otherRoutesServe();
});

test('after every fault, no stream is left open: the active-stream gauge is back to zero', async () => {
  await eventually(async () => (await activeStreams(gw)) === 0, 3000, 'active streams = 0');
  const prom = await prometheus(gw);
  assert.ok((sample(prom, 'gateway_requests_total{route="default/ok",status="200"}') ?? 0) >= 10);
});
