/**
 * Retry policies (HTTPRoute `retry`, Ingress `proxy-next-upstream*`, native `retry`): a request
 * whose answer has a retried status, or whose connection broke before the answer, is sent again,
 * below the plugins, on another endpoint when the cluster has one, its body (up to 1 MiB) kept.
 * And route timeouts (`higress.io/timeout`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Client, request } from 'undici';
import { configDir, echoServer, fetchText, gateway, httpRoute, mcpBridge, mcpIngress, QUIET } from './helpers.js';

type Server = Awaited<ReturnType<typeof echoServer>>;
let good: Server, bad: Server, flaky: Server, slow: Server, trickle: Server;
/** h2c upstreams: one answers 503, the other 200; `h2Tries` counts what the 503 one got. */
let h2Bad: http2.Http2Server, h2Good: http2.Http2Server, h2Silent: http2.Http2Server;
let h2Tries = 0;
/** Requests each upstream saw, by path. */
const seen = { bad: new Map<string, number>(), flaky: new Map<string, number>() };
const count = (m: Map<string, number>, path: string) => m.set(path, (m.get(path) ?? 0) + 1).get(path)!;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;

before(async () => {
  good = await echoServer('good');
  // Always 503, with a body of its own (the client must get exactly this when retries run out).
  bad = await echoServer('bad', (req, res) => {
    count(seen.bad, req.url!);
    req.resume();
    res.writeHead(503, { 'content-type': 'text/plain', 'x-upstream': 'bad' });
    res.end('bad is down');
  });
  // The first request to a path breaks the connection before answering; later ones get 200.
  flaky = await echoServer('flaky', (req, res) => {
    if (count(seen.flaky, req.url!) === 1) return void req.socket.destroy();
    res.writeHead(200, { 'x-upstream': 'flaky' });
    res.end('flaky is fine now');
  });
  // Answers after 3 s.
  slow = await echoServer('slow', (req, res) => { setTimeout(() => res.end('late'), 3000).unref(); });
  // Answers at once, then sends its body in pieces over 3 s.
  trickle = await echoServer('trickle', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    let n = 0;
    const t = setInterval(() => { res.write(`piece ${n}\n`); if (++n === 6) { clearInterval(t); res.end(); } }, 500);
    res.on('close', () => clearInterval(t));
  });
  // Both read the whole request body first; the good one says how many bytes it got.
  h2Bad = http2.createServer((req, res) => { h2Tries++; req.resume(); req.on('end', () => { res.writeHead(503); res.end('h2 down'); }); });
  h2Good = http2.createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; });
    req.on('end', () => { res.writeHead(200); res.end(n ? `h2 fine, ${n} bytes` : 'h2 fine'); });
  });
  // Never answers (the stream stays open).
  h2Silent = http2.createServer(() => undefined);
  await Promise.all([h2Bad, h2Good, h2Silent].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const h2Port = (s: http2.Http2Server) => (s.address() as AddressInfo).port;
  dir = await configDir();
  await dir.write('mcp.yaml', mcpBridge([
    `{ type: static, name: pair, domain: "127.0.0.1:${bad.port},127.0.0.1:${good.port}" }`,
    `{ type: static, name: bad, domain: "127.0.0.1:${bad.port}" }`,
    `{ type: static, name: flaky, domain: "127.0.0.1:${flaky.port}" }`,
    `{ type: static, name: slow, domain: "127.0.0.1:${slow.port}" }`,
    `{ type: static, name: trickle, domain: "127.0.0.1:${trickle.port}" }`,
  ]));
  const ingress = (name: string, dest: string, ann: Record<string, string>) => mcpIngress(name, `${name}.com`, '/', 'Prefix', dest, ann);
  await dir.write('routes.yaml', `${httpRoute('retried', 'retry.example.com', `    - matches: [{ path: { type: PathPrefix, value: /pair } }]
      backendRefs: [{ name: pair.static, port: 80 }]
      retry: { codes: [503], attempts: 2, backoff: 1ms }
    - matches: [{ path: { type: PathPrefix, value: /bad } }]
      backendRefs: [{ name: bad.static, port: 80 }]
      retry: { codes: [503], attempts: 2, backoff: 1ms }
    - matches: [{ path: { type: PathPrefix, value: /plain } }]
      backendRefs: [{ name: bad.static, port: 80 }]
`)}${ingress('next', 'flaky.static:80', { 'nginx.ingress.kubernetes.io/proxy-next-upstream': 'error timeout', 'nginx.ingress.kubernetes.io/proxy-next-upstream-tries': '1' })}${ingress('codes-only', 'flaky.static:80', { 'nginx.ingress.kubernetes.io/proxy-next-upstream': 'http_503' })}${ingress('hurry', 'slow.static:80', { 'higress.io/timeout': '1' })}${ingress('stream', 'trickle.static:80', { 'higress.io/timeout': '1' })}`);
  await dir.write('settings.yaml', `${QUIET}services:
  - { name: h2.svc, protocol: h2c, endpoints: ["127.0.0.1:${h2Port(h2Bad)}", "127.0.0.1:${h2Port(h2Good)}"] }
  - { name: h2-silent.svc, protocol: h2c, endpoints: ["127.0.0.1:${h2Port(h2Silent)}"], requestTimeoutMs: 300 }
routes:
  - { name: default/h2, hosts: [h2.example.com], path: /, service: h2.svc, retry: { attempts: 1, on: [gateway-error], backoffMs: 1 } }
  - { name: default/h2-silent, hosts: [h2-silent.example.com], path: /, service: h2-silent.svc }
`);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await Promise.all([good, bad, flaky, slow, trickle].map((s) => s?.close()));
  await Promise.all([h2Bad, h2Good, h2Silent].map((s) => new Promise((r) => s?.close(r))));
  await dir?.remove();
});

const get = (path: string, host = 'retry.example.com', opts: { method?: string; body?: string } = {}) =>
  fetchText(`${gw.url}${path}`, { ...opts, headers: { host } });

test('HTTPRoute retry: a 503 from one endpoint is retried on the other; the client only sees the good answer', async () => {
  for (let i = 0; i < 6; i++) {
    const r = await get(`/pair/${i}`);
    assert.equal(r.status, 200, `request ${i}`);
    assert.equal(JSON.parse(r.text).name, 'good');
  }
  // Round-robin sent some first tries to the bad endpoint: those were retried.
  assert.ok(seen.bad.size >= 2, `the bad endpoint saw ${seen.bad.size} of the 6 paths`);
  const stats = await fetchText(`${gw.admin}/stats/prometheus`);
  assert.match(stats.text, /gateway_upstream_retries_total\{cluster="outbound\|80\|\|pair\.static"\} [1-9]/);
});

test('HTTPRoute retry: when every try fails the last upstream answer is passed on, after 1 + attempts tries', async () => {
  const r = await get('/bad/x');
  assert.equal(r.status, 503);
  assert.equal(r.text, 'bad is down');
  assert.equal(r.headers['x-upstream'], 'bad');
  assert.equal(seen.bad.get('/bad/x'), 3);
});

test('a request body (up to 1 MiB) is kept and sent again on a retry; a bigger one is not retried', async () => {
  const body = 'x'.repeat(1000);
  let r = await get('/bad/post', 'retry.example.com', { method: 'POST', body });
  assert.equal(r.status, 503);
  assert.equal(seen.bad.get('/bad/post'), 3);
  for (let i = 0; i < 4; i++) {
    r = await get(`/pair/post-${i}`, 'retry.example.com', { method: 'POST', body });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).bodyBytes, body.length, 'the retried request carries the whole body');
  }
  r = await get('/bad/big', 'retry.example.com', { method: 'POST', body: 'y'.repeat(1536 * 1024) });
  assert.equal(r.status, 503);
  assert.equal(seen.bad.get('/bad/big'), 1);
});

test('without a retry policy an upstream 503 passes through after one try', async () => {
  const r = await get('/plain/x');
  assert.equal(r.status, 503);
  assert.equal(r.text, 'bad is down');
  assert.equal(seen.bad.get('/plain/x'), 1);
});

test('an upstream that answers before a large upload ends: the rest is dropped and the client connection stays usable', async () => {
  // One connection: the requests after the upload must go over the same socket.
  const client = new Client(gw.url, { connections: 1, pipelining: 1 } as Client.Options);
  try {
    const big = await client.request({ path: '/plain/upload', method: 'POST', headers: { host: 'retry.example.com' }, body: Buffer.alloc(4 * 1024 * 1024, 0x61) });
    assert.equal(big.statusCode, 503);
    await big.body.dump();
    for (let i = 0; i < 3; i++) {
      const r = await client.request({ path: `/pair/after-${i}`, method: 'GET', headers: { host: 'retry.example.com' }, headersTimeout: 5000 });
      assert.equal(r.statusCode, 200);
      await r.body.dump();
    }
  } finally {
    await client.close();
  }
});

test('Ingress proxy-next-upstream "error timeout": a connection broken before the answer is retried', async () => {
  const r = await get('/first', 'next.com');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'flaky is fine now');
  assert.equal(seen.flaky.get('/first'), 2);
});

test('Ingress proxy-next-upstream "http_503" alone does not retry a broken connection', async () => {
  const r = await get('/second', 'codes-only.com');
  assert.equal(r.status, 502);
  assert.equal(r.headers['x-gateway-detail'], 'upstream_reset');
  assert.equal(seen.flaky.get('/second'), 1);
});

test('Ingress higress.io/timeout: an upstream slower than the route timeout gets 504', async () => {
  const t0 = Date.now();
  const r = await get('/', 'hurry.com');
  assert.equal(r.status, 504);
  assert.equal(r.headers['x-gateway-detail'], 'upstream_response_timeout');
  const ms = Date.now() - t0;
  assert.ok(ms >= 900 && ms < 2900, `answered after ${ms} ms (timeout 1 s, upstream 3 s)`);
});

test('native retry over an HTTP/2 upstream: a 503 (gateway-error) is retried on the other endpoint, with the request body', async () => {
  for (let i = 0; i < 4; i++) {
    const r = await get(`/h2/${i}`, 'h2.example.com');
    assert.equal(r.status, 200, `request ${i}`);
    assert.equal(r.text, 'h2 fine');
  }
  assert.ok(h2Tries >= 1, 'round-robin sent some first tries to the 503 endpoint');
  // A request body is kept and sent again to the other endpoint.
  const tries = h2Tries;
  const body = 'z'.repeat(100_000);
  for (let i = 0; i < 4; i++) {
    const r = await get(`/h2/post-${i}`, 'h2.example.com', { method: 'POST', body });
    assert.equal(r.status, 200, `request ${i}`);
    assert.equal(r.text, `h2 fine, ${body.length} bytes`);
  }
  assert.ok(h2Tries > tries, 'some POSTs were retried');
});

test('the route timeout covers the whole answer, as Envoy\'s: a body still streaming when it passes is cut off', async () => {
  const t0 = Date.now();
  const r = await request(`${gw.url}/`, { headers: { host: 'stream.com' } });
  assert.equal(r.statusCode, 200, 'the head came in time');
  await assert.rejects(r.body.text(), 'the body is cut off by a reset');
  const ms = Date.now() - t0;
  assert.ok(ms >= 900 && ms < 2900, `cut after ${ms} ms (timeout 1 s, body 3 s)`);
});

test('an HTTP/2 upstream that never answers gets the cluster\'s requestTimeoutMs: 504', async () => {
  const t0 = Date.now();
  const r = await get('/', 'h2-silent.example.com');
  assert.equal(r.status, 504);
  assert.equal(r.headers['x-gateway-detail'], 'upstream_response_timeout');
  assert.ok(Date.now() - t0 < 2500, `answered after ${Date.now() - t0} ms (timeout 300 ms)`);
});
