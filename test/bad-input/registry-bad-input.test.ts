// Registry bad input for the gateway's plugin fetcher: a scripted registry on a loopback port
// (real HTTP, real sockets) misbehaves one way per test — unreachable, 401, 403, 404, 429 with
// Retry-After, a blob whose bytes do not match its digest, a truncated blob, a layer over the size
// limit, archives with `..` entries or links. Each gives a clear, typed error; a module cached
// earlier keeps serving and the cache folder is left byte-for-byte intact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fetchPlugin } from '../../runtime/oci/plugin-fetcher.js';
import { buildPluginImage } from '../../runtime/oci/plugin-image.js';
import { MEDIA_TYPES, IMAGE } from '../../spec/index.js';
import { faultWasm } from '../fault-plugins/fault-plugins.js';
import { captureStderr, gateway, send, tempDir, upstream } from '../faults/harness.js';

type Mode = 'ok' | '401' | '403' | '404' | '429-once' | '429-always' | 'digest-mismatch' | 'truncated' | 'huge-layer' | 'dotdot' | 'symlink' | 'hardlink' | 'absolute';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A minimal ustar archive writer that can also write the entries we must refuse. */
function tar(entries: Array<{ name: string; data?: Buffer; type?: '0' | '1' | '2'; link?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100); h.write('0000000\0', 108); h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(e.type ?? '0', 156);
    if (e.link) h.write(e.link, 157, 100, 'utf8');
    h.write('ustar\0', 257); h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

interface Image { manifest: Buffer; blobs: Map<string, Buffer>; digest: string }

/** A one-layer Higress-style image whose plugin.tar.gz is `layer`. */
function imageWithLayer(layer: Buffer, sizeOverride?: number): Image {
  const cfg = Buffer.from('{}');
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, artifactType: MEDIA_TYPES.wasmConfig,
    config: { mediaType: MEDIA_TYPES.ociEmpty, digest: sha(cfg), size: cfg.length },
    layers: [{ mediaType: MEDIA_TYPES.ociLayerTarGzip, digest: sha(layer), size: sizeOverride ?? layer.length, annotations: { 'org.opencontainers.image.title': IMAGE.pluginFiles.archive } }],
  }));
  return { manifest, blobs: new Map([[sha(cfg), cfg], [sha(layer), layer]]), digest: sha(manifest) };
}

let wasm: Uint8Array;
let good: Image;
let mode: Mode = 'ok';
let hits: Array<{ method: string; url: string; auth?: string; at: number }> = [];
let server: http.Server;
let host = '';
let cacheDir = '';
const PASSWORD = 'registry-pa55word-never-shown';

before(async () => {
  wasm = await faultWasm('noop');
  good = (() => {
    const img = buildPluginImage({ wasm, created: '2026-01-01T00:00:00Z' });
    return { manifest: img.manifestBytes, blobs: img.blobs, digest: img.descriptor.digest };
  })();
  server = http.createServer((req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, at: Date.now() });
    const url = req.url ?? '';
    const image = imageFor(mode);
    if (mode === '401') { res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-type': 'application/json' }); return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'); }
    if (mode === '403' && url !== '/v2/') { res.writeHead(403, { 'content-type': 'application/json' }); return res.end('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}'); }
    if (mode === '429-always' || (mode === '429-once' && hits.filter((h) => h.url.includes('/manifests/')).length === 1 && url.includes('/manifests/'))) {
      res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
      return res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
    }
    if (url === '/v2/') { res.writeHead(200); return res.end('{}'); }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/?]+)$/.exec(url);
    if (!m || (mode === '404' && m[2] === 'manifests')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"${m?.[3] ?? ''}"}}]}`);
    }
    if (m[2] === 'manifests') {
      res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest, 'docker-content-digest': image.digest, 'content-length': image.manifest.length });
      return res.end(req.method === 'HEAD' ? undefined : image.manifest);
    }
    const blob = image.blobs.get(m[3]);
    if (!blob) { res.writeHead(404); return res.end('{"errors":[{"code":"BLOB_UNKNOWN"}]}'); }
    if (mode === 'digest-mismatch' && blob.length > 2) {
      const evil = Buffer.from(blob); evil[evil.length - 1] ^= 0xff;
      res.writeHead(200, { 'content-length': evil.length }); return res.end(evil);
    }
    if (mode === 'truncated' && blob.length > 2) {
      res.writeHead(200, { 'content-length': blob.length });
      res.write(blob.subarray(0, blob.length >> 1), () => res.socket?.destroy());
      return;
    }
    res.writeHead(200, { 'content-length': blob.length });
    res.end(req.method === 'HEAD' ? undefined : blob);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  cacheDir = await mkdtemp(join(tmpdir(), 'registry-bad-cache-'));
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(cacheDir, { recursive: true, force: true });
});

const layers = new Map<Mode, Image>();
function imageFor(m: Mode): Image {
  if (m === 'dotdot' || m === 'symlink' || m === 'hardlink' || m === 'absolute' || m === 'huge-layer') {
    let img = layers.get(m);
    if (!img) {
      const w = Buffer.from(wasm);
      const entries = {
        dotdot: [{ name: '../plugin.wasm', data: w }],
        absolute: [{ name: '/etc/plugin.wasm', data: w }],
        symlink: [{ name: 'plugin.wasm', type: '2' as const, link: '/etc/passwd' }],
        hardlink: [{ name: 'plugin.wasm', type: '1' as const, link: '../../etc/passwd' }],
        'huge-layer': [{ name: 'plugin.wasm', data: w }],
      }[m];
      const layer = gzipSync(tar(entries));
      img = imageWithLayer(layer, m === 'huge-layer' ? 3 * 1024 * 1024 * 1024 : undefined);
      layers.set(m, img);
    }
    return img;
  }
  return good;
}

/** Snapshot of every file in the cache folder (name → sha256). */
async function cacheState(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, prefix: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name), `${prefix}${e.name}/`);
      else out[`${prefix}${e.name}`] = sha(await readFile(join(d, e.name)));
    }
  };
  await walk(cacheDir, '');
  return out;
}

const URL_ = () => `oci://${host}/plugins/proof:1.0.0`;
const fresh = () => mkdtemp(join(tmpdir(), 'registry-bad-fresh-'));

async function expectError(m: Mode, code: RegExp, mentions: RegExp[], opts: { maxBytes?: number; credentials?: { username: string; password: string } } = {}): Promise<Error & { code: string }> {
  mode = m;
  hits = [];
  const dir = await fresh();
  try {
    const err = await fetchPlugin(URL_(), { cacheDir: dir, pullPolicy: 'Always', ...opts }).then(() => undefined, (e: Error & { code: string }) => e);
    assert.ok(err, `${m}: expected an error`);
    assert.match(err.code, code, `${m}: ${err.code} ${err.message}`);
    for (const x of mentions) assert.match(err.message, x, err.message);
    assert.doesNotMatch(`${err.message} ${err.stack}`, new RegExp(PASSWORD), 'the password never appears in the error');
    const left = await readdir(dir).catch(() => []);
    const modules = await readdir(join(dir, 'modules')).catch(() => []);
    assert.equal(modules.length, 0, `nothing was cached for ${m} (${left.join(',')})`);
    return err;
  } finally {
    mode = 'ok';
    await rm(dir, { recursive: true, force: true });
  }
}

test('a good image loads and fills the cache (the baseline the failures compare against)', async () => {
  const r = await fetchPlugin(URL_(), { cacheDir, pullPolicy: 'Always' });
  assert.deepEqual(Buffer.from(r.wasm), Buffer.from(wasm));
  assert.equal(r.digest, good.digest);
});

test('an unreachable registry: HP_OCI_UNREACHABLE naming the address', async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const dir = await fresh();
  const err = await fetchPlugin(`oci://127.0.0.1:${port}/plugins/x:1`, { cacheDir: dir }).then(() => undefined, (e: Error & { code: string }) => e);
  await rm(dir, { recursive: true, force: true });
  assert.equal(err?.code, 'HP_OCI_UNREACHABLE');
  assert.match(err!.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
});

test('401 with wrong credentials: HP_OCI_UNAUTHORIZED, and the password appears nowhere in the error', async () => {
  await expectError('401', /^HP_OCI_UNAUTHORIZED$/, [/401/], { credentials: { username: 'alice', password: PASSWORD } });
  assert.ok(hits.some((h) => h.auth?.startsWith('Basic ')), 'the credentials were offered once');
});

test('403: HP_OCI_DENIED with the registry message', async () => {
  await expectError('403', /^HP_OCI_DENIED$/, [/403/, /denied/i]);
});

test('404 on the tag: a not-found error naming the repository and tag', async () => {
  await expectError('404', /^HP_OCI_(MANIFEST_UNKNOWN|NOT_FOUND|NAME_UNKNOWN)$/, [/plugins\/proof/, /1\.0\.0|manifest unknown/i]);
});

test('429 with Retry-After: 1 is waited out and the pull succeeds', async () => {
  mode = '429-once';
  hits = [];
  const dir = await fresh();
  try {
    const start = Date.now();
    const r = await fetchPlugin(URL_(), { cacheDir: dir, pullPolicy: 'Always' });
    assert.deepEqual(Buffer.from(r.wasm), Buffer.from(wasm));
    const manifestHits = hits.filter((h) => h.url.includes('/manifests/'));
    assert.ok(manifestHits.length >= 2);
    assert.ok(manifestHits[1].at - manifestHits[0].at >= 900, `waited ${manifestHits[1].at - manifestHits[0].at} ms for Retry-After: 1`);
    assert.ok(Date.now() - start < 5000);
  } finally {
    mode = 'ok';
    await rm(dir, { recursive: true, force: true });
  }
});

test('429 that never ends: HP_OCI_TOO_MANY_REQUESTS after a bounded number of retries', async () => {
  const start = Date.now();
  await expectError('429-always', /^HP_OCI_TOO_MANY_REQUESTS$/, [/429/]);
  assert.ok(hits.length <= 6, `${hits.length} requests`);
  assert.ok(Date.now() - start < 10_000);
});

test('a blob whose bytes do not match its digest: HP_OCI_DIGEST_MISMATCH, nothing cached', async () => {
  await expectError('digest-mismatch', /^HP_OCI_DIGEST_MISMATCH$/, [/sha256:/]);
});

test('a truncated blob (connection dropped mid-body): a clear error, nothing cached', async () => {
  await expectError('truncated', /^HP_OCI_/, [/plugins\/proof|127\.0\.0\.1/]);
});

test('a layer over the size limit is refused before it is downloaded: HP_OCI_TOO_LARGE', async () => {
  await expectError('huge-layer', /^HP_OCI_TOO_LARGE$/, [/limit/]);
  assert.equal(hits.filter((h) => h.url.includes('/blobs/')).length, 0, 'the layer was never requested');
});

for (const [m, what] of [['dotdot', 'a ".." entry'], ['absolute', 'an absolute path'], ['symlink', 'a symbolic link'], ['hardlink', 'a hard link']] as const) {
  test(`a plugin.tar.gz with ${what} is refused: HP_OCI_UNSAFE_ARCHIVE (or an invalid image), nothing written`, async () => {
    await expectError(m, /^HP_OCI_(UNSAFE_ARCHIVE|INVALID_PLUGIN_IMAGE)$/, [/plugin\.wasm|archive|entry/i]);
  });
}

test('with a cached module, every registry failure serves the cached module with the error attached, and the cache stays byte-for-byte intact', async () => {
  const state = await cacheState();
  for (const m of ['403', '404', 'digest-mismatch', 'truncated', 'dotdot', 'symlink'] as Mode[]) {
    mode = m;
    const r = await fetchPlugin(URL_(), { cacheDir, pullPolicy: 'Always' });
    mode = 'ok';
    assert.deepEqual(Buffer.from(r.wasm), Buffer.from(wasm), `${m}: the cached module is served`);
    assert.equal(r.cached, true);
    if (m === '403' || m === '404') assert.ok(r.staleError, `${m}: the failure is reported with the stale module`);
    assert.deepEqual(await cacheState(), state, `${m}: cache folder unchanged`);
  }
});

test('in the gateway, a registry that starts failing leaves the cached plugin serving, and the failure is logged', async () => {
  const up = await upstream();
  const dir = await tempDir('registry-gw-');
  const log = captureStderr();
  mode = 'ok';
  await dir.write('gw.yaml', `settings: { accessLog: "off" }
services: [{ name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }]
routes: [{ name: default/main, path: /, service: up.svc }]
plugins: [{ name: pulled, url: "${URL_()}", imagePullPolicy: Always, config: { on: true } }]
`);
  const gw = await gateway([`${dir.dir}/gw.yaml`], { cacheDir: `${dir.dir}/cache` });
  try {
    assert.equal((await send(`${gw.url}/`)).status, 200);
    mode = '403';
    const r = await send(`${gw.admin}/reload`, { method: 'POST' });
    assert.equal(r.status, 200, r.text);
    assert.equal((await send(`${gw.url}/`)).status, 200, 'the cached module keeps serving');
    assert.match(log.text(), /\[warn\] \[gateway\] plugin oci:\/\/.*403.*serving the cached module sha256:/);
  } finally {
    mode = 'ok';
    log.stop();
    await gw.close();
    await up.close();
    await dir.remove();
  }
});
