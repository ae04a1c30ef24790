// HTTP bad input against the real gateway over raw sockets: request smuggling shapes, oversized
// request lines and headers, a body over the buffering limit, slow and vanishing clients, and
// upstreams that vanish or talk garbage. For each: no crash, the right status, nothing smuggled
// upstream, and no leaked stream (the active-stream gauge returns to zero).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { faultPlugin } from '../fault-plugins/fault-plugins.js';
import { activeStreams, eventually, gateway, once, prometheus, raw, sample, send, tempDir, upstream, type TestGateway, type Upstream } from '../faults/harness.js';

const BUFFER_LIMIT = 64 * 1024;
let up: Upstream;
let garbage: net.Server;
let vanishing: http.Server;
let dir: Awaited<ReturnType<typeof tempDir>>;
let gw: TestGateway;

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  up = await upstream();
  // An "upstream" that answers every request with bytes that are not HTTP.
  garbage = net.createServer((s) => { s.on('data', () => { s.end('HELLO I AM NOT HTTP\r\n\r\n\x00\x01\x02'); }); s.on('error', () => undefined); });
  // An upstream that sends headers and part of the body, then drops the connection.
  vanishing = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-length': '100000' });
    res.write('x'.repeat(1000), () => setTimeout(() => res.socket?.destroy(), 20));
  });
  const garbagePort = await listen(garbage);
  const vanishingPort = await listen(vanishing);
  dir = await tempDir('bad-http-');
  const noop = await faultPlugin(dir.dir, 'noop');
  const buffering = await faultPlugin(dir.dir, 'buffer-request-body');
  await dir.write('gw.yaml', `settings: { accessLog: "off", bodyBufferLimitBytes: ${BUFFER_LIMIT} }
services:
  - { name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }
  - { name: garbage.svc, endpoints: ["127.0.0.1:${garbagePort}"] }
  - { name: vanishing.svc, endpoints: ["127.0.0.1:${vanishingPort}"] }
routes:
  - { name: default/garbage, path: /garbage, service: garbage.svc }
  - { name: default/vanishing, path: /vanishing, service: vanishing.svc }
  - { name: default/buffered-chain, path: /buffered-chain, service: up.svc }
  - { name: default/buffered, path: /buffered, service: up.svc }
  - { name: default/main, path: /, service: up.svc }
plugins:
  - { name: noop, url: "${noop}", failStrategy: FAIL_CLOSE, configDisable: true, rules: [{ routes: [default/main, default/garbage, default/vanishing, default/buffered-chain] }] }
  - { name: buffering, url: "${buffering}", failStrategy: FAIL_CLOSE, configDisable: true, rules: [{ routes: [default/buffered, default/buffered-chain] }] }
`);
  gw = await gateway([`${dir.dir}/gw.yaml`]);
});

after(async () => {
  await gw?.close();
  await up?.close();
  await new Promise<void>((r) => garbage.close(() => r()));
  vanishing.closeAllConnections();
  await new Promise<void>((r) => vanishing.close(() => r()));
  await dir?.remove();
});

async function noLeaks(): Promise<void> {
  await eventually(async () => (await activeStreams(gw)) === 0, 3000, 'the active-stream gauge back to zero');
  assert.equal((await send(`${gw.url}/healthy`)).status, 200, 'the gateway still serves');
}

function smuggled(): boolean {
  return up.seen.some((s) => s.url.includes('smuggled'));
}

const SMUGGLING: Array<[string, string]> = [
  ['Content-Length with Transfer-Encoding', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['two different Content-Length headers', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['Transfer-Encoding other than chunked last', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['an obs-folded header line', 'GET /a HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['a space before the header colon', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['a bare LF line ending inside headers', 'GET /a HTTP/1.1\r\nHost: a\nX-Evil: 1\r\n\r\n'],
];

for (const [shape, bytes] of SMUGGLING) {
  test(`request smuggling shape refused: ${shape} → 400, nothing smuggled upstream`, async () => {
    const answer = await raw(gw.port, bytes, 400);
    assert.match(answer, /^HTTP\/1\.1 400 /, answer.slice(0, 200));
    assert.equal((answer.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'exactly one answer on the connection');
    assert.equal(smuggled(), false);
    await noLeaks();
  });
}

test('an invalid chunk size mid-body ends the exchange without smuggling; the gauge returns to zero', async () => {
  const answer = await raw(gw.port, 'POST /chunks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n', 600);
  assert.doesNotMatch(answer, /HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 200 /, 'never two answers');
  assert.equal(smuggled(), false);
  assert.equal(up.seen.filter((s) => s.url === '/chunks' && s.bodyBytes > 5).length, 0);
  await noLeaks();
});

test('garbage after the HTTP/2 connection preface closes that connection only', async () => {
  const answer = await raw(gw.port, Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from('\x00\x00\x04\x99\xff\x00\x00\x00\x01garbage-not-a-frame')]), 400);
  assert.doesNotMatch(answer, /HTTP\/1\.1 200/);
  await noLeaks();
});

test('an HTTP/2 client that resets its stream mid-upload leaves no stream behind', async () => {
  const http2 = await import('node:http2');
  const session = http2.connect(gw.url);
  await new Promise<void>((resolve, reject) => { session.once('connect', () => resolve()); session.once('error', reject); });
  for (let i = 0; i < 5; i++) {
    const stream = session.request({ ':method': 'POST', ':path': `/h2-upload/${i}` });
    stream.on('error', () => undefined);
    stream.write(Buffer.alloc(50_000, 99));
    await new Promise((r) => setTimeout(r, 20));
    stream.close(http2.constants.NGHTTP2_CANCEL);
  }
  await new Promise((r) => setTimeout(r, 100));
  session.destroy();
  await noLeaks();
});

test('an oversized request line gets 431 (or 414), a header block over 16 KiB gets 431', async () => {
  const line = await raw(gw.port, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
  assert.match(line, /^HTTP\/1\.1 (431|414) /);
  const headers = await raw(gw.port, `GET / HTTP/1.1\r\nHost: a\r\n${Array.from({ length: 200 }, (_, i) => `x-h${i}: ${'v'.repeat(100)}`).join('\r\n')}\r\n\r\n`);
  assert.match(headers, /^HTTP\/1\.1 431 /);
  await noLeaks();
});

test('a body over the buffering limit of a plugin that buffers gets 413; the upstream never sees it', async () => {
  const before = up.seen.length;
  const r = await send(`${gw.url}/buffered`, { method: 'POST', body: Buffer.alloc(BUFFER_LIMIT * 3, 97) });
  assert.equal(r.status, 413);
  assert.equal(up.seen.slice(before).filter((s) => s.url === '/buffered').length, 0);
  const small = await send(`${gw.url}/buffered`, { method: 'POST', body: Buffer.alloc(1000, 97) });
  assert.equal(small.status, 200, `a body under the limit passes (${small.text})`);
  await noLeaks();
});

test('a body buffered by one plugin reaches the upstream intact when the next plugin has no body callback', async () => {
  const before = up.seen.length;
  const r = await send(`${gw.url}/buffered-chain`, { method: 'POST', body: Buffer.alloc(5000, 97) });
  assert.equal(r.status, 200, r.text);
  assert.equal(up.seen.slice(before).find((x) => x.url === '/buffered-chain')?.bodyBytes, 5000);
  await noLeaks();
});

test('a slow client trickling its headers does not hold up other clients', async () => {
  const slow = net.connect(gw.port, '127.0.0.1');
  await new Promise((r) => slow.once('connect', r));
  const text = 'GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: 1\r\n';
  let i = 0;
  const timer = setInterval(() => { if (i < text.length) slow.write(text[i++]); }, 20);
  const start = Date.now();
  for (let k = 0; k < 20; k++) assert.equal((await send(`${gw.url}/fast${k}`)).status, 200);
  assert.ok(Date.now() - start < 2000, 'other clients are served while the slow one trickles');
  clearInterval(timer);
  slow.destroy();
  await noLeaks();
});

test('a client that vanishes mid-upload leaves no stream behind', async () => {
  for (let k = 0; k < 5; k++) {
    const sock = net.connect(gw.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n');
    sock.write(Buffer.alloc(100_000, 98));
    await new Promise((r) => setTimeout(r, 30));
    sock.destroy();
  }
  await noLeaks();
});

test('a client that vanishes while the response is streaming leaves no stream behind', async () => {
  await new Promise<void>((resolve) => {
    const req = http.get(`${gw.url}/vanishing`, { agent: false }, (res) => { res.once('data', () => { req.destroy(); resolve(); }); });
    req.on('error', () => resolve());
  });
  await noLeaks();
});

test('an upstream that drops the connection mid-body: the client sees a truncated response, the gateway counts an upstream error', async () => {
  const r = await once(`${gw.url}/vanishing`);
  assert.ok(r.error || r.text.length < 100_000, 'the truncation is visible to the client, never a silently short 200');
  await noLeaks();
});

test('an upstream that answers garbage gets 502; the error is counted per cluster', async () => {
  const r = await send(`${gw.url}/garbage`);
  assert.equal(r.status, 502);
  const prom = await prometheus(gw);
  assert.ok((sample(prom, 'gateway_upstream_errors_total{cluster="outbound|80||garbage.svc"}') ?? 0) >= 1, prom);
  await noLeaks();
});

test('after all of the above, request counters add up and no socket is left on the upstream', async () => {
  const prom = await prometheus(gw);
  assert.ok((sample(prom, 'gateway_requests_total{route="default/main",status="200"}') ?? 0) >= 20);
  await eventually(async () => (await activeStreams(gw)) === 0, 2000, 'no active streams');
});
