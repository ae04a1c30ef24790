/**
 * Higress's global settings and their defaults: response compression (on by default, as in
 * Higress), the request head limit, and the higress-config ConfigMap (gzip, downstream,
 * upstream, addXRealIpHeader).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { gunzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { Client, request } from 'undici';
import { configDir, echoServer, gateway, QUIET } from './helpers.js';
import { sdkTestPlugin } from '../sdk/helpers.js';

const TEXT = 'Hello World, '.repeat(160); // 2080 bytes

let up: Awaited<ReturnType<typeof echoServer>>;
const dirs: Array<Awaited<ReturnType<typeof configDir>>> = [];
const gws: Array<Awaited<ReturnType<typeof gateway>>> = [];
let plain: (typeof gws)[number];
let tuned: (typeof gws)[number];
let off: (typeof gws)[number];

async function start(files: Record<string, string>): Promise<(typeof gws)[number]> {
  const dir = await configDir();
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await dir.write(name, text);
  const gw = await gateway([dir.dir]);
  gws.push(gw);
  return gw;
}

/** The tuned gateway's ConfigMap, with this `maxRequestHeadersKb`. */
const higressConfig = (headKb: number): string => `apiVersion: v1
kind: ConfigMap
metadata: { name: higress-config, namespace: higress-system }
data:
  higress: |-
    gzip:
      enable: true
      minContentLength: 100
      contentType: ["application/json"]
      disableOnEtagHeader: false
      memoryLevel: 9
      windowBits: 15
      chunkSize: 4096
      compressionLevel: BEST_SPEED
      compressionStrategy: DEFAULT_STRATEGY
    downstream:
      idleTimeout: 30
      maxRequestHeadersKb: ${headKb}
      http2: { maxConcurrentStreams: 50, initialStreamWindowSize: 131072, initialConnectionWindowSize: 2097152 }
      connectionBufferLimits: 65536
      routeTimeout: 1
    upstream:
      idleTimeout: 5
    addXRealIpHeader: true
    tracing: { enable: false }
  mesh: "not read"
`;

before(async () => {
  up = await echoServer('up', (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const n = Number(url.searchParams.get('n') ?? TEXT.length);
    const body = TEXT.repeat(Math.ceil(n / TEXT.length)).slice(0, n);
    const head: Record<string, string> = { 'content-type': url.searchParams.get('type') ?? 'text/plain; charset=utf-8' };
    if (url.searchParams.get('etag')) head.etag = url.searchParams.get('etag')!;
    if (url.searchParams.get('encoded')) head['content-encoding'] = 'br';
    if (url.pathname === '/headers') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
    if (url.pathname === '/slow') return void setTimeout(() => res.end('late'), 2000).unref();
    if (url.pathname === '/chunked') {
      res.writeHead(200, head);
      res.write(body.slice(0, 1000));
      setTimeout(() => res.end(body.slice(1000)), 20);
      return;
    }
    if (url.searchParams.get('range')) head['content-range'] = `bytes 0-${n - 1}/99999`;
    res.writeHead(url.searchParams.get('range') ? 206 : 200, { ...head, 'content-length': String(Buffer.byteLength(body)) }).end(body);
  });
  // The upstream takes request heads of any size here: the limits under test are the gateway's.
  (up.server as unknown as { maxHeaderSize: number }).maxHeaderSize = 1 << 20;
  const service = `services:\n  - { name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }\n`;
  plain = await start({
    'gw.yaml': `${QUIET}${service}routes:
  - { name: default/probe, path: /probe, service: up.svc }
  - { name: default/all, path: /, service: up.svc }
plugins:
  - name: sdk-probe
    url: ${pathToFileURL(await sdkTestPlugin('sdk-probe')).href}
    rules: [{ routes: [default/probe], config: { name: probe } }]
`,
  });
  tuned = await start({
    'gw.yaml': `${QUIET}${service}routes:\n  - { name: default/all, path: /, service: up.svc }\n`,
    'higress-config.yaml': higressConfig(20),
  });
  off = await start({ 'gw.yaml': `settings:\n  accessLog: "off"\n  gzip: false\n${service}routes:\n  - { name: default/all, path: /, service: up.svc }\n` });
});

after(async () => {
  for (const gw of gws) await gw.close();
  await up?.close();
  for (const d of dirs) await d.remove();
});

async function get(base: string, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const r = await request(`${base}${path}`, { method: method as 'GET', headers });
  const raw = Buffer.from(await r.body.arrayBuffer());
  const gz = r.headers['content-encoding'] === 'gzip';
  return { status: r.statusCode, headers: r.headers, raw, text: (gz ? gunzipSync(raw) : raw).toString() };
}

const GZIP = { 'accept-encoding': 'gzip, deflate' };

test('by default (as in Higress) a text response of 1 KiB or more is gzip-compressed for a client that accepts gzip', async () => {
  const r = await get(plain.url, '/text', GZIP);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.equal(r.headers.vary, 'Accept-Encoding');
  assert.equal(r.headers['content-length'], undefined);
  assert.ok(r.raw.length < TEXT.length / 4, `${r.raw.length} bytes on the wire`);
  assert.equal(r.text, TEXT);
  // A body of unknown length is compressed too.
  const chunked = await get(plain.url, '/chunked', GZIP);
  assert.equal(chunked.headers['content-encoding'], 'gzip');
  assert.equal(chunked.text, TEXT);
});

test('compression is skipped as Envoy skips it: no gzip accepted, q=0, too small, other types, encoded, an ETag, HEAD', async () => {
  const identity = async (path: string, headers: Record<string, string>, why: string, method = 'GET') => {
    const r = await get(plain.url, path, headers, method);
    assert.equal(r.status, 200, why);
    assert.equal(r.headers['content-encoding'], path.includes('encoded') ? 'br' : undefined, why);
    return r;
  };
  const r = await identity('/text', {}, 'no accept-encoding');
  assert.equal(r.headers['content-length'], String(TEXT.length));
  assert.equal(r.text, TEXT);
  await identity('/text', { 'accept-encoding': 'gzip;q=0, *' }, 'gzip refused by weight');
  await identity('/text', { 'accept-encoding': 'br' }, 'gzip not offered');
  await identity('/text?n=500', GZIP, 'below 1024 bytes');
  await identity('/text?type=application/octet-stream', GZIP, 'type not in the list');
  await identity('/text?encoded=1', GZIP, 'already encoded');
  await identity('/text?etag=%22v1%22', GZIP, 'an ETag (disableOnEtagHeader)');
  await identity('/text', GZIP, 'HEAD', 'HEAD');
  const partial = await get(plain.url, '/text?range=1', GZIP);
  assert.equal(partial.status, 206);
  assert.equal(partial.headers['content-encoding'], undefined, 'a byte range of the uncompressed body');
  assert.equal((await get(plain.url, '/text', { 'accept-encoding': '*' })).headers['content-encoding'], 'gzip', '* allows gzip');
});

test('plugins see the response uncompressed; the gateway compresses what they leave', async () => {
  // sdk-probe lower-cases response body chunks (x-lower).
  const r = await get(plain.url, '/probe/text', { ...GZIP, 'x-lower': '1' });
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.equal(r.text, TEXT.toLowerCase());
});

test('a plugin\'s local response is compressed too (Envoy runs local replies through its compressor)', async () => {
  // sdk-probe answers an x-json request itself: "string <the text>", text/plain.
  const long = 'a'.repeat(1500);
  const r = await get(plain.url, '/probe/x', { ...GZIP, 'x-json': JSON.stringify(long) });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.equal(r.headers['content-length'], String(r.raw.length));
  assert.equal(r.text, `string ${long}`);
  const small = await get(plain.url, '/probe/x', { ...GZIP, 'x-json': '"short"' });
  assert.equal(small.headers['content-encoding'], undefined);
  assert.equal(small.text, 'string short');
});

test('compression over HTTP/2 (h2c)', async () => {
  const session = http2.connect(plain.url);
  try {
    const { head, body } = await new Promise<{ head: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const s = session.request({ ':path': '/text', 'accept-encoding': 'gzip' });
      const chunks: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      s.on('response', (h) => { head = h; });
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve({ head, body: Buffer.concat(chunks) }));
      s.on('error', reject);
    });
    assert.equal(head['content-encoding'], 'gzip');
    assert.equal(gunzipSync(body).toString(), TEXT);
  } finally {
    session.close();
  }
});

test('native settings.gzip: false turns compression off', async () => {
  const r = await get(off.url, '/text', GZIP);
  assert.equal(r.headers['content-encoding'], undefined);
  assert.equal(r.text, TEXT);
});

test('a higress-config ConfigMap sets compression (types, minimum, ETags) as Higress reads it', async () => {
  let r = await get(tuned.url, '/text?type=application/json&n=150', GZIP);
  assert.equal(r.headers['content-encoding'], 'gzip', 'JSON of 150 bytes, minContentLength 100');
  assert.equal(r.text, TEXT.slice(0, 150));
  r = await get(tuned.url, '/text', GZIP);
  assert.equal(r.headers['content-encoding'], undefined, 'text/plain is no longer in the list');
  // disableOnEtagHeader false: a weak ETag stays, a strong one is dropped.
  r = await get(tuned.url, '/text?type=application/json&etag=W/%22v1%22', GZIP);
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.equal(r.headers.etag, 'W/"v1"');
  r = await get(tuned.url, '/text?type=application/json&etag=%22v1%22', GZIP);
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.equal(r.headers.etag, undefined);
});

test('a higress-config ConfigMap sets x-real-ip, the default route timeout and the connection settings', async () => {
  const seen = JSON.parse((await get(tuned.url, '/headers')).text);
  assert.equal(seen['x-real-ip'], '127.0.0.1');
  assert.equal(JSON.parse((await get(plain.url, '/headers')).text)['x-real-ip'], undefined, 'off by default');
  const t0 = Date.now();
  const slow = await get(tuned.url, '/slow');
  assert.equal(slow.status, 504, 'downstream.routeTimeout: 1 (s) applies to a route without a timeout');
  assert.ok(Date.now() - t0 < 1900);
  const dump = JSON.parse((await get(tuned.admin, '/config_dump')).text);
  assert.equal(dump.settings.idleTimeoutMs, 30_000);
  assert.equal(dump.settings.bodyBufferLimitBytes, 65536);
  assert.equal(dump.clusters[0].idleTimeoutMs, 5000);
});

test('a request head up to 60 KiB passes by default, as in Higress (Node alone stops at 16 KiB); maxRequestHeadersKb sets the limit', async () => {
  const big = (kb: number) => ({ 'x-big': 'b'.repeat(kb * 1024) });
  assert.equal((await get(plain.url, '/text', big(30))).status, 200);
  assert.equal((await get(plain.url, '/text', big(70))).status, 431);
  assert.equal((await get(tuned.url, '/text', big(10))).status, 200);
  assert.equal((await get(tuned.url, '/text', big(30))).status, 431, 'maxRequestHeadersKb: 20');
  // A reload with a new limit applies to new connections, without a restart.
  await dirs[1].write('higress-config.yaml', higressConfig(40));
  const r = await request(`${tuned.admin}/reload`, { method: 'POST' });
  assert.equal(r.statusCode, 200, await r.body.text());
  const fresh = new Client(tuned.url);
  try {
    const after = await fresh.request({ path: '/text', method: 'GET', headers: big(30) });
    await after.body.dump();
    assert.equal(after.statusCode, 200, 'maxRequestHeadersKb: 40, on a new connection');
  } finally {
    await fresh.close();
  }
});

/** What an HTTP/2 client hears from the gateway: its SETTINGS and its connection window. */
async function h2Settings(url: string): Promise<{ settings: http2.Settings; connectionWindow: number }> {
  const session = http2.connect(url);
  try {
    await new Promise<void>((resolve, reject) => {
      const s = session.request({ ':path': '/text' });
      s.on('error', reject);
      s.resume();
      s.on('end', () => resolve());
    });
    return { settings: session.remoteSettings, connectionWindow: session.state.remoteWindowSize ?? 0 };
  } finally {
    session.close();
  }
}

test('HTTP/2 clients get Higress\'s settings (100 streams, a 1 MiB connection window); downstream.http2 sets them', async () => {
  let h = await h2Settings(plain.url);
  assert.equal(h.settings.maxConcurrentStreams, 100);
  assert.equal(h.settings.initialWindowSize, 65535);
  assert.equal(h.settings.maxHeaderListSize, 60 * 1024);
  assert.ok(h.connectionWindow > 1_000_000, `connection window ${h.connectionWindow}`);
  h = await h2Settings(tuned.url);
  assert.equal(h.settings.maxConcurrentStreams, 50);
  assert.equal(h.settings.initialWindowSize, 131072);
  assert.ok(h.connectionWindow > 2_000_000, `connection window ${h.connectionWindow}`);
});
