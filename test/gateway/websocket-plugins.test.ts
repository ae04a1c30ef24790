// WebSocket upgrades run the route's plugin chain on the upgrade request's headers and on the
// upstream's answer head: key-auth rejects an upgrade without a key (no upstream connection is
// made) and lets a keyed one through; hello-world's request header reaches the upstream and its
// response header the client's 101. Real sockets, real WebSocket frames (undici's client).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'undici';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { configDir, gateway, QUIET } from './helpers.js';
import { sdkTestPlugin } from '../sdk/helpers.js';
import { selfSignedCert } from '../fixtures/self-signed.js';

const KEY_AUTH = pathToFileURL(join(PACKAGE_ROOT, 'examples/key-auth/build/plugin.wasm')).href;
const HELLO = pathToFileURL(join(PACKAGE_ROOT, 'examples/hello-world/build/plugin.wasm')).href;
const API_KEY = 'ws-key-1';
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Unmasked server frame (text, or close echoing the code). */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, payload]);
}

/** Reads complete masked client frames from `buf`; returns them and the unread rest. */
function clientFrames(buf: Buffer): { frames: Array<{ opcode: number; payload: Buffer }>; rest: Buffer } {
  const frames: Array<{ opcode: number; payload: Buffer }> = [];
  let i = 0;
  for (;;) {
    if (buf.length - i < 2) break;
    const opcode = buf[i] & 0x0f;
    let len = buf[i + 1] & 0x7f;
    let at = i + 2;
    if (len === 126) { if (buf.length - at < 2) break; len = buf.readUInt16BE(at); at += 2; }
    else if (len === 127) throw new Error('test server: frame too large');
    if (buf.length - at < 4 + len) break;
    const mask = buf.subarray(at, at + 4);
    const payload = Buffer.from(buf.subarray(at + 4, at + 4 + len));
    for (let k = 0; k < payload.length; k++) payload[k] ^= mask[k & 3];
    frames.push({ opcode, payload });
    i = at + 4 + len;
  }
  return { frames, rest: buf.subarray(i) };
}

let upstream: http.Server;
let upstreamPort = 0;
let upstreamConnections = 0;
const upgradeHeaders: http.IncomingHttpHeaders[] = [];
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;
let port = 0;
let tlsPort = 0;
/** What the upstream read on the upgraded `shout` connection. */
let shoutReceived = '';

before(async () => {
  // A WebSocket echo server (text frames) that refuses upgrades under /refuse (403; 426 chunked on a kept connection under /chunked).
  upstream = http.createServer((_req, res) => res.end('plain'));
  upstream.on('connection', () => { upstreamConnections++; });
  upstream.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
    upgradeHeaders.push(req.headers);
    socket.on('error', () => socket.destroy());
    if (req.url?.includes('/declined')) {
      // Declines the upgrade and answers the request itself, after reading its body.
      const want = Number(req.headers['content-length']);
      let got = head.length;
      const answer = () => socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${String(got).length + 4}\r\n\r\ngot ${got}`);
      if (got >= want) answer();
      else socket.on('data', (d: Buffer) => { got += d.length; if (got >= want) answer(); });
      return;
    }
    if (req.url?.includes('/chunked')) {
      // A refusal with a chunked body on a connection the upstream keeps open.
      socket.write('HTTP/1.1 426 Upgrade Required\r\ntransfer-encoding: chunked\r\n\r\n4\r\nnope\r\n3;x=y\r\n!!!\r\n0\r\n\r\n');
      return;
    }
    if (req.url?.includes('/loud')) {
      // Refusals in capitals: a chunked one on a kept connection, or one with a length.
      if (req.url.includes('length')) socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 7\r\n\r\nREFUSED');
      else socket.write('HTTP/1.1 426 Upgrade Required\r\ntransfer-encoding: chunked\r\n\r\n4\r\nNOPE\r\n3;x=y\r\n!!!\r\n0\r\n\r\n');
      return;
    }
    if (req.url?.includes('/stream')) {
      // A plain-text protocol over the upgraded connection: each read is answered "Got <it> Back".
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: shout\r\nconnection: Upgrade\r\n\r\n');
      socket.on('data', (d: Buffer) => { shoutReceived += d.toString(); socket.write(`Got ${d.toString()} Back`); });
      socket.on('end', () => socket.end());
      return;
    }
    if (req.url?.includes('/refuse')) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\nrefused');
      return;
    }
    const accept = createHash('sha1').update(String(req.headers['sec-websocket-key']) + WS_GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\nx-upstream: ws\r\n\r\n`);
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const r = clientFrames(Buffer.concat([buf, chunk]));
      buf = r.rest;
      for (const f of r.frames) {
        if (f.opcode === 0x8) { socket.end(serverFrame(0x8, f.payload)); return; }
        if (f.opcode === 0x1) socket.write(serverFrame(0x1, Buffer.concat([Buffer.from('echo:'), f.payload])));
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as AddressInfo).port;
  dir = await configDir();
  const { cert, key } = selfSignedCert(dir.dir, 'ws.test');
  await dir.write('gw.yaml', `${QUIET}  pluginLogLevel: warn
listeners:
  - { name: plain, address: 127.0.0.1, port: 0 }
  - { name: secure, address: 127.0.0.1, port: 0, tls: [{ hosts: [ws.test], cert: ${cert}, key: ${key} }] }
services:
  - { name: ws.svc, endpoints: ["127.0.0.1:${upstreamPort}"] }
routes:
  - { name: default/ws-auth, path: /auth, service: ws.svc }
  - { name: default/ws-hello, path: /hello, service: ws.svc }
  - { name: default/ws-refuse, path: /refuse, service: ws.svc }
  - { name: default/ws-stream, path: /stream, service: ws.svc }
plugins:
  - name: key-auth
    url: ${KEY_AUTH}
    phase: AUTHN
    rules:
      - routes: [default/ws-auth]
        config: { consumers: [{ name: consumer1, credential: ${API_KEY} }], keys: [x-api-key, apikey] }
  - name: hello-world
    url: ${HELLO}
    rules:
      - routes: [default/ws-hello, default/ws-refuse]
        config: { header: x-hello, value: ws }
  - name: sdk-probe
    url: ${pathToFileURL(await sdkTestPlugin('sdk-probe')).href}
    rules:
      - routes: [default/ws-stream]
        config: { name: stream }
`);
  gw = await gateway([dir.dir]);
  port = gw.ports().plain;
  tlsPort = gw.ports().secure;
});

after(async () => {
  await gw?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
  await dir?.remove();
});

/** Sends a raw upgrade request and resolves with everything the gateway sent until it closed (or 3 s passed). */
function rawUpgrade(path: string, extra = ''): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => { sock.destroy(); resolve({ text, closed: false }); }, 3000);
    sock.on('data', (d) => { text += d.toString('latin1'); });
    sock.on('error', () => undefined);
    sock.on('close', () => { clearTimeout(timer); resolve({ text, closed: true }); });
    sock.write(`GET ${path} HTTP/1.1\r\nhost: ws.test\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`);
  });
}

/** Opens a WebSocket through the gateway, sends `messages` one by one and collects the echoes. */
async function roundTrip(path: string, messages: string[], headers?: Record<string, string>): Promise<string[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, headers ? { headers } : undefined);
  const got: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.onerror = (e) => reject(new Error(`websocket error: ${(e as { message?: string }).message ?? 'unknown'}`));
    ws.onopen = () => ws.send(messages[0]);
    ws.onmessage = (e) => {
      got.push(String(e.data));
      if (got.length < messages.length) ws.send(messages[got.length]);
      else ws.close(1000);
    };
    ws.onclose = () => resolve();
  });
  return got;
}

test('an upgraded connection\'s bytes pass through the plugins\' body callbacks, both ways (as in Envoy)', async () => {
  const sock = net.connect(port, '127.0.0.1');
  let text = '';
  const arrived = (re: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => { if (re.test(text)) { sock.off('data', check); resolve(); } };
    sock.on('data', check);
    sock.once('close', () => reject(new Error(`closed; got: ${text}`)));
    check();
  });
  sock.on('data', (d) => { text += d.toString('latin1'); });
  // sdk-probe upper-cases request body chunks (x-upper) and lower-cases response ones (x-lower).
  sock.write('GET /stream HTTP/1.1\r\nhost: ws.test\r\nupgrade: shout\r\nconnection: Upgrade\r\nx-upper: 1\r\nx-lower: 1\r\n\r\n');
  await arrived(/^HTTP\/1\.1 101 [^]*\r\n\r\n/);
  sock.write('hello');
  await arrived(/got hello back$/);
  assert.equal(shoutReceived, 'HELLO');
  assert.match(text, /\r\nupgrade: shout\r\n/i);
  sock.destroy();
});

test('key-auth rejects a WebSocket upgrade without a key with 401, before any upstream connection', async () => {
  const before = upstreamConnections;
  const r = await rawUpgrade('/auth/chat');
  assert.match(r.text, /^HTTP\/1\.1 401 /);
  assert.match(r.text, /No API key found in request\./);
  assert.match(r.text, /\r\nx-request-id: /);
  assert.equal(r.closed, true, 'the gateway keeps the refused connection open');
  const wrong = await rawUpgrade('/auth/chat', 'x-api-key: nope\r\n');
  assert.match(wrong.text, /^HTTP\/1\.1 401 /);
  assert.match(wrong.text, /Invalid API key/);
  assert.equal(upstreamConnections, before, 'the upstream was contacted for a rejected upgrade');
});

test('with a valid key the upgrade goes through, the upstream sees the consumer, and messages echo', async () => {
  const n = upgradeHeaders.length;
  assert.deepEqual(await roundTrip('/auth/chat', ['one', 'two', 'three'], { 'x-api-key': API_KEY }), ['echo:one', 'echo:two', 'echo:three']);
  assert.deepEqual(await roundTrip(`/auth/chat?apikey=${API_KEY}`, ['query']), ['echo:query']);
  const seen = upgradeHeaders.slice(n);
  assert.equal(seen.length, 2);
  for (const h of seen) {
    assert.equal(h['x-mse-consumer'], 'consumer1');
    assert.equal(h.upgrade, 'websocket');
    assert.match(String(h.connection), /upgrade/i);
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
  }
});

test('a header a plugin adds to the upgrade request reaches the upstream, and its response header reaches the client', async () => {
  const n = upgradeHeaders.length;
  const r = await new Promise<string>((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    sock.write('GET /hello/room HTTP/1.1\r\nhost: ws.test\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    sock.on('data', (d) => { text += d.toString('latin1'); if (text.includes('\r\n\r\n')) { sock.destroy(); resolve(text); } });
  });
  assert.match(r, /^HTTP\/1\.1 101 /);
  assert.match(r, /\r\nx-hello: ws\r\n/, 'the plugin\'s response header is missing on the 101');
  assert.match(r, /\r\nx-upstream: ws\r\n/);
  assert.match(r, /\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  assert.equal(upgradeHeaders[n]['x-hello'], 'ws');
  assert.deepEqual(await roundTrip('/hello/room', ['hi']), ['echo:hi']);
});

test('an upgrade the upstream refuses reaches the client as that response, through the plugins, and the connection closes', async () => {
  const r = await rawUpgrade('/refuse');
  assert.match(r.text, /^HTTP\/1\.1 403 /);
  assert.match(r.text, /\r\nx-hello: ws\r\n/);
  assert.match(r.text, /\r\n\r\nrefused$/);
  assert.equal(r.closed, true);
  const start = Date.now();
  const chunked = await rawUpgrade('/refuse/chunked');
  assert.equal(chunked.closed, true);
  assert.ok(Date.now() - start < 1000, `the chunked refusal took ${Date.now() - start} ms to close (the upstream keeps its connection)`);
  assert.match(chunked.text, /^HTTP\/1\.1 426 [^]*\r\ntransfer-encoding: chunked\r\n[^]*\r\n\r\n4\r\nnope\r\n3;x=y\r\n!!!\r\n0\r\n\r\n$/);
});

test('a refused upgrade\'s body goes through the plugins\' response-body callbacks, without its framing', async () => {
  // sdk-probe on /stream lower-cases response body chunks (x-lower).
  const chunked = await rawUpgrade('/stream/loud', 'x-lower: 1\r\n');
  assert.equal(chunked.closed, true);
  assert.match(chunked.text, /^HTTP\/1\.1 426 /);
  assert.doesNotMatch(chunked.text, /transfer-encoding|content-length/i, 'the body may change length: the end of the connection ends it');
  assert.match(chunked.text, /\r\n\r\nnope!!!$/);
  const sized = await rawUpgrade('/stream/loud-length', 'x-lower: 1\r\n');
  assert.match(sized.text, /^HTTP\/1\.1 403 /);
  assert.doesNotMatch(sized.text, /content-length/i);
  assert.match(sized.text, /\r\n\r\nrefused$/);
});

test('an upgrade request with a body (Upgrade: h2c) that the upstream declines still delivers its body and gets the answer', async () => {
  const r = await new Promise<string>((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (d) => { text += d.toString('latin1'); });
    sock.on('close', () => resolve(text));
    sock.write('POST /refuse/declined HTTP/1.1\r\nhost: ws.test\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\nconnection: Upgrade, HTTP2-Settings\r\ncontent-length: 100000\r\n\r\n');
    setTimeout(() => sock.write(Buffer.alloc(100_000, 0x61)), 50);
  });
  assert.match(r, /^HTTP\/1\.1 200 /);
  assert.match(r, /\r\n\r\ngot 100000$/);
});

test('over TLS (wss) the chain runs the same: 401 without a key, 101 and echo with one', async () => {
  const exchange = (extra: string, message?: string) => new Promise<string>((resolve) => {
    const sock = tls.connect({ port: tlsPort, host: '127.0.0.1', servername: 'ws.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      sock.write(`GET /auth/secure HTTP/1.1\r\nhost: ws.test\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`);
    });
    let text = '';
    const timer = setTimeout(() => sock.destroy(), 3000);
    sock.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (message && text.startsWith('HTTP/1.1 101') && text.endsWith('\r\n\r\n')) {
        // One masked text frame (mask 0: the payload goes as is).
        sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | message.length, 0, 0, 0, 0]), Buffer.from(message)]));
      } else if (message && text.includes(`echo:${message}`)) sock.destroy();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => { clearTimeout(timer); resolve(text); });
  });
  const denied = await exchange('');
  assert.match(denied, /^HTTP\/1\.1 401 /);
  const ok = await exchange(`x-api-key: ${API_KEY}\r\n`, 'tls');
  assert.match(ok, /^HTTP\/1\.1 101 /);
  assert.ok(ok.includes('echo:tls'), `no echo over wss: ${JSON.stringify(ok)}`);
  assert.equal(upgradeHeaders.at(-1)?.['x-forwarded-proto'], 'https');
});

test('upgrade requests show in the request stats with their status', async () => {
  const text = await (await fetch(`${gw.admin}/stats/prometheus`)).text();
  assert.match(text, /gateway_requests_total\{route="default\/ws-auth",status="401"\} [1-9]/);
  assert.match(text, /gateway_requests_total\{route="default\/ws-auth",status="101"\} [1-9]/);
});
