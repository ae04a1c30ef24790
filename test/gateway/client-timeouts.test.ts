// Client timeouts (settings.headersTimeoutMs / idleTimeoutMs): a connection that sends nothing,
// a client that never finishes its request head, and an idle keep-alive connection or HTTP/2
// session are closed, on plain (h1 + h2c) and TLS listeners; well-behaved clients are not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { configDir, echoServer, gateway, QUIET } from './helpers.js';
import { selfSignedCert } from '../fixtures/self-signed.js';

const HEADERS_MS = 300;
const IDLE_MS = 700;

let up: Awaited<ReturnType<typeof echoServer>>;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;
let plainPort = 0;
let tlsPort = 0;

before(async () => {
  up = await echoServer('up');
  dir = await configDir();
  const { cert, key } = selfSignedCert(dir.dir, 't.test');
  await dir.write('gw.yaml', `${QUIET}  headersTimeoutMs: ${HEADERS_MS}
  idleTimeoutMs: ${IDLE_MS}
listeners:
  - { name: plain, address: 127.0.0.1, port: 0 }
  - { name: secure, address: 127.0.0.1, port: 0, tls: [{ hosts: [t.test], cert: ${cert}, key: ${key} }] }
services:
  - { name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }
routes:
  - { name: default/up, path: /, service: up.svc }
`);
  gw = await gateway([dir.dir]);
  plainPort = gw.ports().plain;
  tlsPort = gw.ports().secure;
});

after(async () => {
  await gw?.close();
  await up?.close();
  await dir?.remove();
});

/** Opens a socket, writes `bytes` (if any) and resolves when the gateway closes it: elapsed ms and what it answered. */
function closedAfter(sock: net.Socket, bytes?: string, limitMs = 5000): Promise<{ ms: number; data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const start = Date.now();
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { sock.destroy(); resolve({ ms: Date.now() - start, data: Buffer.concat(chunks).toString('latin1'), closed: false }); }, limitMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => { clearTimeout(timer); resolve({ ms: Date.now() - start, data: Buffer.concat(chunks).toString('latin1'), closed: true }); });
    if (bytes) sock.write(bytes);
  });
}

function connectPlain(): Promise<net.Socket> {
  return new Promise((resolve) => { const s = net.connect(plainPort, '127.0.0.1', () => resolve(s)); });
}

test('a connection that never sends a byte is closed after headersTimeoutMs', async () => {
  const r = await closedAfter(await connectPlain());
  assert.equal(r.closed, true, 'the silent connection is still open after 5 s');
  assert.ok(r.ms >= HEADERS_MS - 50 && r.ms < HEADERS_MS + 1500, `closed after ${r.ms} ms`);
});

test('a TLS connection that never sends a byte is closed after headersTimeoutMs', async () => {
  const sock = await new Promise<net.Socket>((resolve) => { const s = net.connect(tlsPort, '127.0.0.1', () => resolve(s)); });
  const r = await closedAfter(sock);
  assert.equal(r.closed, true, 'the silent TLS connection is still open after 5 s');
  assert.ok(r.ms < HEADERS_MS + 1500, `closed after ${r.ms} ms`);
});

test('a client that never finishes its request head gets 408 or is closed', async () => {
  const r = await closedAfter(await connectPlain(), 'GET / HTTP/1.1\r\nHost: a.test\r\nX-Slow: 1\r\n');
  assert.equal(r.closed, true, 'the slow-header connection is still open after 5 s');
  assert.ok(r.ms < HEADERS_MS + 1500, `closed after ${r.ms} ms`);
  if (r.data) assert.match(r.data, /^HTTP\/1\.1 408 /);
});

test('an idle HTTP/1.1 keep-alive connection is closed after idleTimeoutMs, not before', async () => {
  const sock = await connectPlain();
  const start = Date.now();
  let answeredAt = 0;
  const closed = closedAfter(sock, 'GET /idle HTTP/1.1\r\nHost: a.test\r\n\r\n');
  sock.on('data', () => { answeredAt ||= Date.now(); });
  const r = await closed;
  assert.equal(r.closed, true, 'the idle keep-alive connection is still open after 5 s');
  assert.match(r.data, /^HTTP\/1\.1 200 /);
  const idle = start + r.ms - answeredAt;
  assert.ok(idle >= IDLE_MS - 100 && idle < IDLE_MS + 1500, `closed ${idle} ms after the response`);
});

test('an idle h2c session and an idle TLS h2 session are closed after idleTimeoutMs', async () => {
  for (const [url, opts] of [[`http://127.0.0.1:${plainPort}`, {}], [`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false, servername: 't.test' }]] as const) {
    const session = http2.connect(url, opts);
    session.on('error', () => undefined);
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/h2-idle' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
      req.end();
    });
    assert.equal(status, 200);
    const start = Date.now();
    const ms = await new Promise<number>((resolve) => {
      const t = setTimeout(() => { session.destroy(); resolve(-1); }, 5000);
      session.on('close', () => { clearTimeout(t); resolve(Date.now() - start); });
    });
    assert.ok(ms >= 0, `the idle session to ${url} is still open after 5 s`);
    assert.ok(ms >= IDLE_MS - 150 && ms < IDLE_MS + 2000, `${url}: closed after ${ms} ms`);
  }
});

test('a keep-alive client pausing less than idleTimeoutMs between requests keeps its connection, while silent clients are dropped', async () => {
  const silent = await Promise.all([connectPlain(), connectPlain(), connectPlain()]);
  const silentClosed = silent.map((s) => closedAfter(s));
  const sock = await connectPlain();
  let closed = false;
  sock.on('close', () => { closed = true; });
  let buf = '';
  sock.on('data', (c) => { buf += c.toString('latin1'); });
  // Pauses longer than headersTimeoutMs but shorter than idleTimeoutMs: the connection stays.
  for (let i = 0; i < 3; i++) {
    sock.write(`GET /keep/${i} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
    const before = buf.length;
    for (let t = 0; t < 100 && buf.length === before; t++) await new Promise((r) => setTimeout(r, 10));
    assert.match(buf.slice(before), /^HTTP\/1\.1 200 /, `request ${i} on the kept connection`);
    await new Promise((r) => setTimeout(r, HEADERS_MS + 150));
    assert.equal(closed, false, `the connection was closed during pause ${i}`);
  }
  sock.destroy();
  for (const r of await Promise.all(silentClosed)) assert.equal(r.closed, true);
});
