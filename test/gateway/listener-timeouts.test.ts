// Client timeouts beyond the basics (client-timeouts.test.ts): HTTP/2 clients that keep a
// connection busy with frames but never send a request, or stall inside a HEADERS block, are
// dropped after headersTimeoutMs; and a reload that changes headersTimeoutMs / idleTimeoutMs
// applies to the running listeners without closing the port or any open connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { request } from 'undici';
import { configDir, echoServer, gateway, QUIET } from './helpers.js';
import { selfSignedCert } from '../fixtures/self-signed.js';

const HEADERS_MS = 300;
const IDLE_MS = 1200;

let up: Awaited<ReturnType<typeof echoServer>>;
let slow: Awaited<ReturnType<typeof echoServer>>;
let dir: Awaited<ReturnType<typeof configDir>>;
let reloadDir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;
let plainPort = 0;
let tlsPort = 0;
let cert = '';
let key = '';

const config = (headersMs: number, idleMs: number): string => `${QUIET}  headersTimeoutMs: ${headersMs}
  idleTimeoutMs: ${idleMs}
listeners:
  - { name: plain, address: 127.0.0.1, port: 0 }
  - { name: secure, address: 127.0.0.1, port: 0, tls: [{ hosts: [t.test], cert: ${cert}, key: ${key} }] }
services:
  - { name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }
  - { name: slow.svc, endpoints: ["127.0.0.1:${slow.port}"] }
routes:
  - { name: default/slow, path: /slow, service: slow.svc }
  - { name: default/up, path: /, service: up.svc }
`;

before(async () => {
  up = await echoServer('up');
  slow = await echoServer('slow', (_req, res) => { setTimeout(() => res.end('late'), 2 * HEADERS_MS); });
  dir = await configDir();
  reloadDir = await configDir();
  ({ cert, key } = selfSignedCert(dir.dir, 't.test'));
  await dir.write('gw.yaml', config(HEADERS_MS, IDLE_MS));
  gw = await gateway([dir.dir]);
  plainPort = gw.ports().plain;
  tlsPort = gw.ports().secure;
});

after(async () => {
  await gw?.close();
  await up?.close();
  await slow?.close();
  await dir?.remove();
  await reloadDir?.remove();
});

// --- raw HTTP/2 frames ------------------------------------------------------------------------

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const HEADERS = 0x1;

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/**
 * An h2c client on a raw socket: sends the preface and SETTINGS, acknowledges the server's
 * SETTINGS, and records the frame types it receives and when the gateway closed the socket.
 */
function rawH2c(): Promise<{ sock: net.Socket; received: number[]; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const sock = net.connect(plainPort, '127.0.0.1', () => {
      const start = Date.now();
      const received: number[] = [];
      let buf = Buffer.alloc(0);
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 9) {
          const len = buf.readUIntBE(0, 3);
          if (buf.length < 9 + len) break;
          const type = buf[3];
          received.push(type);
          if (type === SETTINGS && (buf[4] & 1) === 0 && !sock.destroyed) sock.write(frame(SETTINGS, 1, 0));
          buf = buf.subarray(9 + len);
        }
      });
      sock.on('error', () => undefined);
      const closed = new Promise<number>((r) => sock.on('close', () => r(Date.now() - start)));
      sock.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]));
      resolve({ sock, received, closed });
    });
  });
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

test('an h2c connection that only sends SETTINGS and PINGs, never a request, gets GOAWAY and is closed after headersTimeoutMs', async () => {
  const c = await rawH2c();
  const pinger = setInterval(() => { if (!c.sock.destroyed) c.sock.write(frame(PING, 0, 0, Buffer.alloc(8))); }, 50);
  try {
    const ms = await within(c.closed, 5000, 'the ping-only connection');
    assert.ok(ms >= HEADERS_MS - 50 && ms < IDLE_MS - 300, `closed after ${ms} ms (headersTimeoutMs ${HEADERS_MS}, idleTimeoutMs ${IDLE_MS})`);
    assert.ok(c.received.includes(PING), 'the gateway never answered a PING (the test sent no valid frames?)');
    assert.ok(c.received.includes(GOAWAY), 'no GOAWAY before the close');
  } finally {
    clearInterval(pinger);
  }
});

test('an h2c client stalled inside its HEADERS block (no END_HEADERS) is closed after headersTimeoutMs, not idleTimeoutMs', async () => {
  const c = await rawH2c();
  // :method GET, :scheme http, :path / (HPACK static table), END_STREAM but no END_HEADERS: the server must wait for CONTINUATION.
  c.sock.write(frame(HEADERS, 0x1, 1, Buffer.from([0x82, 0x86, 0x84])));
  const ms = await within(c.closed, 5000, 'the stalled-HEADERS connection');
  assert.ok(ms < IDLE_MS - 300, `closed after ${ms} ms (headersTimeoutMs ${HEADERS_MS}, idleTimeoutMs ${IDLE_MS})`);
});

test('a TLS h2 session that only pings, never a request, is closed after headersTimeoutMs', async () => {
  const session = http2.connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false, servername: 't.test' });
  session.on('error', () => undefined);
  await new Promise<void>((r) => session.once('connect', () => r()));
  const start = Date.now();
  let pongs = 0;
  const pinger = setInterval(() => { if (!session.closed && !session.destroyed) session.ping(() => { pongs++; }); }, 50);
  try {
    const ms = await within(new Promise<number>((r) => session.once('close', () => r(Date.now() - start))), 5000, 'the ping-only TLS session');
    assert.ok(pongs > 0, 'no PING was answered');
    assert.ok(ms < IDLE_MS - 300, `closed after ${ms} ms (headersTimeoutMs ${HEADERS_MS}, idleTimeoutMs ${IDLE_MS})`);
  } finally {
    clearInterval(pinger);
  }
});

test('an h2 client whose requests outlast headersTimeoutMs, pausing less than idleTimeoutMs, keeps its session; pings alone do not', async () => {
  const session = http2.connect(`http://127.0.0.1:${plainPort}`);
  session.on('error', () => undefined);
  let closedAt = 0;
  session.on('close', () => { closedAt = Date.now(); });
  const get = (path: string) => new Promise<number>((resolve, reject) => {
    const req = session.request({ ':path': path });
    req.on('response', (h) => resolve(Number(h[':status'])));
    req.on('error', reject);
    req.resume();
    req.end();
  });
  // The slow upstream answers after 2 × headersTimeoutMs: an open stream is not a stalled client.
  assert.equal(await get('/slow'), 200);
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, HEADERS_MS + 200));
    assert.equal(closedAt, 0, `the session was closed during pause ${i}`);
    assert.equal(await get(`/keep/${i}`), 200);
  }
  // Now only PINGs: the session still ends idleTimeoutMs after its last stream.
  const idleFrom = Date.now();
  const pinger = setInterval(() => { if (!session.closed && !session.destroyed) session.ping(() => undefined); }, 50);
  try {
    await within(new Promise<void>((r) => { if (session.destroyed) r(); else session.once('close', () => r()); }), 5000, 'the pinging idle session');
    const idle = closedAt - idleFrom;
    assert.ok(idle >= IDLE_MS - 150 && idle < IDLE_MS + 1500, `closed ${idle} ms after the last stream`);
  } finally {
    clearInterval(pinger);
  }
});

// --- reload -----------------------------------------------------------------------------------

/** A keep-alive HTTP/1.1 connection: `get()` sends a request and resolves with the status line; `closed` tracks the socket. */
async function keepAlive(port: number): Promise<{ get(path: string): Promise<string>; closed(): boolean; closedAt(): Promise<number> }> {
  const sock = await new Promise<net.Socket>((r) => { const s = net.connect(port, '127.0.0.1', () => r(s)); });
  let buf = '';
  let isClosed = false;
  const closedAt = new Promise<number>((r) => sock.on('close', () => { isClosed = true; r(Date.now()); }));
  sock.on('data', (d) => { buf += d.toString('latin1'); });
  sock.on('error', () => undefined);
  return {
    async get(path) {
      const from = buf.length;
      sock.write(`GET ${path} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
      for (let t = 0; t < 200 && !buf.slice(from).includes('\r\n\r\n'); t++) await new Promise((r) => setTimeout(r, 10));
      return buf.slice(from).split('\r\n')[0];
    },
    closed: () => isClosed,
    closedAt: () => closedAt,
  };
}

function silentClose(port: number): Promise<number> {
  return new Promise((resolve) => {
    const start = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    const t = setTimeout(() => { sock.destroy(); resolve(-1); }, 5000);
    sock.on('close', () => { clearTimeout(t); resolve(Date.now() - start); });
  });
}

test('a reload that changes headersTimeoutMs and idleTimeoutMs applies to running listeners without closing the port or open connections', async () => {
  // Its own gateway, started with long limits.
  await reloadDir.write('gw.yaml', config(20_000, 20_000));
  const g = await gateway([reloadDir.dir]);
  try {
    const ports = g.ports();
    const h1 = await keepAlive(ports.plain);
    assert.match(await h1.get('/before'), /^HTTP\/1\.1 200 /);
    const session = http2.connect(`https://127.0.0.1:${ports.secure}`, { rejectUnauthorized: false, servername: 't.test' });
    session.on('error', () => undefined);
    const sessionClosed = new Promise<number>((r) => session.on('close', () => r(Date.now())));
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/h2-before' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
      req.end();
    });
    assert.equal(status, 200);

    const NEW_HEADERS = 250;
    const NEW_IDLE = 600;
    // Same listeners (port 0 = the one already bound), new limits.
    await reloadDir.write('gw.yaml', config(NEW_HEADERS, NEW_IDLE));
    const r = await request(`${g.admin}/reload`, { method: 'POST' });
    const body = await r.body.json() as { ok: boolean };
    const reloadedAt = Date.now();
    assert.equal(body.ok, true, JSON.stringify(body));
    assert.deepEqual(g.ports(), ports, 'the listeners moved');

    // The open connections survived the reload and still serve.
    assert.equal(h1.closed(), false, 'the keep-alive connection was closed by the reload');
    assert.match(await h1.get('/after'), /^HTTP\/1\.1 200 /);
    const answeredAt = Date.now();
    // The new idle limit applies to the next idle period of the kept connection and to the open h2 session.
    const h1Idle = (await within(h1.closedAt(), 5000, 'the kept HTTP/1.1 connection')) - answeredAt;
    assert.ok(h1Idle >= NEW_IDLE - 100 && h1Idle < NEW_IDLE + 1500, `the kept connection closed ${h1Idle} ms after its last response`);
    const h2Idle = (await within(sessionClosed, 5000, 'the kept h2 session')) - reloadedAt;
    assert.ok(h2Idle < NEW_IDLE + 1500, `the kept h2 session closed ${h2Idle} ms after the reload`);

    // New connections get the new head limit, on the plain and the TLS listener.
    for (const [name, port] of [['plain', ports.plain], ['TLS', ports.secure]] as const) {
      const ms = await silentClose(port);
      assert.ok(ms >= 0, `a silent ${name} connection is still open after 5 s`);
      assert.ok(ms < NEW_HEADERS + 1000, `a silent ${name} connection closed after ${ms} ms`);
    }
    const slowHead = await new Promise<{ ms: number; data: string }>((resolve) => {
      const start = Date.now();
      const sock = net.connect(ports.plain, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: a.test\r\n'));
      let data = '';
      sock.on('data', (d) => { data += d.toString('latin1'); });
      sock.on('error', () => undefined);
      sock.on('close', () => resolve({ ms: Date.now() - start, data }));
    });
    assert.ok(slowHead.ms < NEW_HEADERS + 1000, `an unfinished request head was cut after ${slowHead.ms} ms`);
    if (slowHead.data) assert.match(slowHead.data, /^HTTP\/1\.1 408 /);
    // Via TLS, HTTP/1.1 too.
    const tlsHead = await new Promise<number>((resolve) => {
      const start = Date.now();
      const sock = tls.connect({ port: ports.secure, host: '127.0.0.1', servername: 't.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => sock.write('GET / HTTP/1.1\r\nHost: t.test\r\n'));
      sock.on('data', () => undefined);
      sock.on('error', () => undefined);
      sock.on('close', () => resolve(Date.now() - start));
    });
    assert.ok(tlsHead < NEW_HEADERS + 1000, `an unfinished TLS request head was cut after ${tlsHead} ms`);
  } finally {
    await g.close();
  }
});
