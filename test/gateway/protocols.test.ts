import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { configDir, echo, echoServer, fetchText, gateway, QUIET } from './helpers.js';
import { selfSignedCert } from '../fixtures/self-signed.js';

type Echo = Awaited<ReturnType<typeof echoServer>>;
let up: Echo;
let slow: Echo;
let stream: Echo;
let trailing: Echo;
let big: Echo;
/** Bytes the big upstream managed to hand to its socket so far. */
let bigWritten = 0;
const BIG = 64 * 1024 * 1024;
let grpc: http2.Http2Server;
let grpcPort = 0;
let grpcRequestTrailers: http2.IncomingHttpHeaders = {};
let deadPort = 0;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;
let tlsPort = 0;
const streamEvents: string[] = [];

/** gRPC length-prefixed message framing. */
function frame(msg: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}
function unframe(buf: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + 5 <= buf.length;) {
    const n = buf.readUInt32BE(i + 1);
    out.push(buf.subarray(i + 5, i + 5 + n).toString());
    i += 5 + n;
  }
  return out;
}

before(async () => {
  up = await echoServer('up');
  up.server.on('upgrade', (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-path: ' + req.url + '\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  slow = await echoServer('slow', (_req, res) => { setTimeout(() => res.end('late'), 1500); });
  stream = await echoServer('stream', (req, res) => {
    let n = 0;
    streamEvents.push('upstream-start');
    req.on('data', (c: Buffer) => { if (n === 0) streamEvents.push('upstream-first-byte'); n += c.length; });
    req.on('end', () => { streamEvents.push('upstream-end'); res.end(String(n)); });
  });
  trailing = await echoServer('trailing', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
    res.write('part one, ');
    res.write('part two');
    res.addTrailers({ 'x-checksum': 'abc123' });
    res.end();
  });
  big = await echoServer('big', (_req, res) => {
    bigWritten = 0;
    const chunk = Buffer.alloc(64 * 1024, 97);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG });
    const pump = () => {
      while (bigWritten < BIG) {
        bigWritten += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  grpc = http2.createServer();
  grpc.on('stream', (s, headers) => {
    s.on('trailers', (t) => { grpcRequestTrailers = t; });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      const msgs = unframe(Buffer.concat(chunks));
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      if (headers[':path'] === '/demo.Echo/Unary') s.write(frame(Buffer.from(`hello ${msgs[0]}`)));
      else for (const m of msgs) s.write(frame(Buffer.from(`item ${m}`)));
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'OK' }));
      s.end();
    });
  });
  await new Promise<void>((r) => grpc.listen(0, '127.0.0.1', r));
  grpcPort = (grpc.address() as AddressInfo).port;
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));

  dir = await configDir();
  const a = selfSignedCert(dir.dir, 'a.test');
  const b = selfSignedCert(dir.dir, 'b.test');
  await dir.write('gw.yaml', `${QUIET}listeners:
  - { name: plain, address: 127.0.0.1, port: 0 }
  - name: secure
    address: 127.0.0.1
    port: 0
    tls:
      - { hosts: [a.test], cert: ${a.cert}, key: ${a.key} }
      - { hosts: [b.test], cert: ${b.cert}, key: ${b.key} }
services:
  - { name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }
  - { name: slow.svc, endpoints: ["127.0.0.1:${slow.port}"], requestTimeoutMs: 300 }
  - { name: stream.svc, endpoints: ["127.0.0.1:${stream.port}"] }
  - { name: trailing.svc, endpoints: ["127.0.0.1:${trailing.port}"] }
  - { name: big.svc, endpoints: ["127.0.0.1:${big.port}"] }
  - { name: grpc.svc, protocol: grpc, endpoints: ["127.0.0.1:${grpcPort}"] }
  - { name: flaky.svc, endpoints: ["127.0.0.1:${deadPort}", "127.0.0.1:${up.port}"] }
  - { name: dead.svc, endpoints: ["127.0.0.1:${deadPort}"] }
routes:
  - { name: default/slow, path: /slow, service: slow.svc }
  - { name: default/upload, path: /upload, service: stream.svc }
  - { name: default/trailing, path: /trailing, service: trailing.svc }
  - { name: default/big, path: /big, service: big.svc }
  - { name: default/grpc, path: /demo.Echo, service: grpc.svc }
  - { name: default/flaky, path: /flaky, service: flaky.svc }
  - { name: default/dead, path: /dead, service: dead.svc }
  - { name: default/up, path: /, service: up.svc }
`);
  gw = await gateway([dir.dir]);
  tlsPort = gw.ports().secure;
});

after(async () => {
  await gw?.close();
  await Promise.all([up, slow, stream, trailing, big].map((s) => s?.close()));
  grpc?.close();
  await dir?.remove();
});

test('h2c with prior knowledge is served on the same port as HTTP/1.1', async () => {
  const session = http2.connect(gw.url);
  const body = await new Promise<string>((resolve, reject) => {
    const s = session.request({ ':path': '/h2c-test', ':authority': 'x.test' });
    let t = '';
    s.on('data', (d) => (t += d));
    s.on('end', () => resolve(t));
    s.on('error', reject);
  });
  session.close();
  const j = JSON.parse(body);
  assert.equal(j.url, '/h2c-test');
  assert.equal(j.headers.host, 'x.test');
  assert.equal(j.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal((await echo(`${gw.url}/h1`)).url, '/h1');
});

test('TLS negotiates h2 or http/1.1 by ALPN and picks the certificate by SNI', async () => {
  for (const [name, alpn] of [['a.test', 'h2'], ['b.test', 'http/1.1']] as const) {
    const sock = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: name, ALPNProtocols: [alpn], rejectUnauthorized: false });
    await new Promise<void>((r, j) => { sock.once('secureConnect', r); sock.once('error', j); });
    assert.equal(sock.alpnProtocol, alpn);
    assert.equal((sock.getPeerCertificate() as { subject: { CN: string } }).subject.CN, name);
    sock.destroy();
  }
  const session = http2.connect(`https://127.0.0.1:${tlsPort}`, { servername: 'a.test', rejectUnauthorized: false });
  const body = await new Promise<string>((resolve, reject) => {
    const s = session.request({ ':path': '/over-tls', ':authority': 'a.test' });
    let t = '';
    s.on('data', (d) => (t += d));
    s.on('end', () => resolve(t));
    s.on('error', reject);
  });
  session.close();
  assert.equal(JSON.parse(body).headers['x-forwarded-proto'], 'https');
  const h1 = await new Promise<string>((resolve, reject) => {
    https1(`/over-tls-h1`, resolve, reject);
  });
  assert.equal(JSON.parse(h1).url, '/over-tls-h1');
});

function https1(path: string, resolve: (s: string) => void, reject: (e: Error) => void): void {
  const req = https.request({ host: '127.0.0.1', port: tlsPort, path, servername: 'b.test', headers: { host: 'b.test' }, rejectUnauthorized: false, agent: false }, (res) => {
    let t = '';
    res.on('data', (d) => (t += d));
    res.on('end', () => resolve(t));
  });
  req.on('error', reject);
  req.end();
}

test('WebSocket upgrades pass through both ways', async () => {
  const sock = net.connect(Number(new URL(gw.url).port), '127.0.0.1');
  sock.write('GET /ws?room=1 HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  let text = '';
  await new Promise<void>((r) => sock.on('data', (d) => { text += d; if (text.includes('\r\n\r\n')) r(); }));
  assert.match(text, /^HTTP\/1.1 101/);
  assert.match(text, /x-path: \/ws\?room=1/);
  text = '';
  sock.write('ping');
  await new Promise<void>((r) => sock.on('data', () => { if (text.includes('echo:ping')) r(); }));
  assert.ok(text.includes('echo:ping'));
  sock.destroy();
});

test('gRPC unary and server-streaming calls over h2 carry grpc-status trailers', async () => {
  const session = http2.connect(gw.url);
  const call = (path: string, msgs: string[]) => new Promise<{ msgs: string[]; trailers: http2.IncomingHttpHeaders; headers: http2.IncomingHttpHeaders }>((resolve, reject) => {
    const s = session.request({ ':path': path, ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    s.on('response', (h) => (headers = h));
    s.on('trailers', (t) => (trailers = t));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve({ msgs: unframe(Buffer.concat(chunks)), trailers, headers }));
    s.on('error', reject);
    for (const m of msgs) s.write(frame(Buffer.from(m)));
    s.end();
  });
  const unary = await call('/demo.Echo/Unary', ['world']);
  assert.deepEqual(unary.msgs, ['hello world']);
  assert.equal(unary.headers['content-type'], 'application/grpc');
  assert.equal(unary.trailers['grpc-status'], '0');
  const streaming = await call('/demo.Echo/Stream', ['1', '2', '3']);
  assert.deepEqual(streaming.msgs, ['item 1', 'item 2', 'item 3']);
  assert.equal(streaming.trailers['grpc-message'], 'OK');
  session.close();
});

test('a 50 MB upload streams: the upstream receives bytes before the client has finished sending', async () => {
  streamEvents.length = 0;
  const total = 50 * 1024 * 1024;
  const chunk = Buffer.alloc(256 * 1024, 7);
  const result = await new Promise<string>((resolve, reject) => {
    const req = http.request(`${gw.url}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(total) } }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve(t));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (sent >= total / 2 && !streamEvents.includes('client-half')) streamEvents.push('client-half');
        if (!req.write(chunk)) { req.once('drain', pump); return; }
      }
      streamEvents.push('client-done');
      req.end();
    };
    pump();
  });
  assert.equal(result, String(total));
  // The upstream sees bytes before the client is half done: the gateway cannot be holding the body.
  // (An RSS bound was dropped: in one process with client and upstream it measured GC timing.)
  assert.ok(streamEvents.indexOf('upstream-first-byte') < streamEvents.indexOf('client-half'), `events: ${streamEvents.join(',')}`);
  assert.ok(streamEvents.indexOf('upstream-first-byte') < streamEvents.indexOf('client-done'));
});

test('a refused connection is retried on another endpoint, and the refusing endpoint is ejected', async () => {
  for (let i = 0; i < 6; i++) {
    const r = await echo(`${gw.url}/flaky/${i}`);
    assert.equal(r.status, 200);
    assert.equal(r.name, 'up');
  }
  const prom = (await fetchText(`${gw.admin}/stats/prometheus`)).text;
  const m = /gateway_upstream_errors_total\{cluster="outbound\|80\|\|flaky.svc"\} (\d+)/.exec(prom);
  assert.ok(m && Number(m[1]) === 1, 'ejected after the first refusal, so one error only');
});

test('an unreachable upstream answers 503 and a slow one 504', async () => {
  const dead = await fetchText(`${gw.url}/dead`);
  assert.equal(dead.status, 503);
  assert.equal(dead.headers['x-gateway-detail'], 'upstream_connect_failure');
  const slowR = await fetchText(`${gw.url}/slow`);
  assert.equal(slowR.status, 504);
});

test('response trailers from an HTTP/1.1 upstream reach HTTP/1.1 and HTTP/2 clients', async () => {
  const h1 = await new Promise<{ body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
    http.get(`${gw.url}/trailing`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ body, trailers: res.trailers }));
    }).on('error', reject);
  });
  assert.equal(h1.body, 'part one, part two');
  assert.equal(h1.trailers['x-checksum'], 'abc123');

  const session = http2.connect(gw.url);
  try {
    const h2 = await new Promise<{ body: string; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
      const s = session.request({ ':path': '/trailing' });
      let body = '';
      let trailers: http2.IncomingHttpHeaders = {};
      s.setEncoding('utf8');
      s.on('data', (d: string) => (body += d));
      s.on('trailers', (t) => (trailers = t));
      s.on('end', () => resolve({ body, trailers }));
      s.on('error', reject);
    });
    assert.equal(h2.body, 'part one, part two');
    assert.equal(h2.trailers['x-checksum'], 'abc123');
  } finally {
    session.close();
  }
});

test('a client that stops reading holds the upstream back: the response is not buffered in the gateway', async () => {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`${gw.url}/big`, resolve).on('error', reject);
  });
  res.pause();
  // Wait until the upstream cannot write any more (its socket, the gateway and the client's socket are full).
  let last = -1;
  while (last !== bigWritten) {
    last = bigWritten;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(bigWritten < BIG / 2, `the upstream wrote ${bigWritten} of ${BIG} bytes while the client read nothing`);
  let received = 0;
  res.on('data', (c: Buffer) => { received += c.length; });
  res.resume();
  await new Promise((r) => res.on('end', r));
  assert.equal(received, BIG);
});

test('request trailers from an HTTP/2 client reach an HTTP/2 upstream', async () => {
  grpcRequestTrailers = {};
  const session = http2.connect(gw.url);
  try {
    const status = await new Promise<string>((resolve, reject) => {
      const s = session.request({ ':path': '/demo.Echo/Unary', ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'x-request-checksum': 'c0ffee' }));
      s.end(frame(Buffer.from('with trailers')));
      let grpcStatus = '';
      s.on('trailers', (t) => { grpcStatus = String(t['grpc-status']); });
      s.resume();
      s.on('end', () => resolve(grpcStatus));
      s.on('error', reject);
    });
    assert.equal(status, '0');
    assert.equal(grpcRequestTrailers['x-request-checksum'], 'c0ffee');
  } finally {
    session.close();
  }
});
