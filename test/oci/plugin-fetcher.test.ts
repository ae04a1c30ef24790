import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { watPlugin, tempDir } from './helpers.js';
import { Repository } from '../../runtime/oci/registry-client.js';
import { buildDockerPluginImage, buildPluginImage, buildWasmLayerPluginImage, pluginArchive, type BuiltImage } from '../../runtime/oci/plugin-image.js';
import { memorySource, pushImage } from '../../runtime/oci/image-copy.js';
import { fetchPlugin } from '../../runtime/oci/plugin-fetcher.js';
import { createTar, gzipReproducible } from '../../runtime/oci/tar-gz.js';
import { sha256Digest } from '../../runtime/oci/digest.js';

let registry: TestRegistry;
let wasm: Buffer;

before(async () => {
  [registry, wasm] = await Promise.all([startRegistry(), watPlugin()]);
});
after(async () => {
  await registry?.stop();
});

async function push(image: BuiltImage, repo: string, tag: string): Promise<string> {
  const r = new Repository(`${registry.host}/${repo}:${tag}`);
  return (await pushImage(memorySource(image.descriptor, image.manifestBytes, image.blobs), image.descriptor, r, tag)).digest;
}

const higress = () => buildPluginImage({ wasm, spec: Buffer.from('apiVersion: 1.0.0\n'), readmes: [{ name: 'README.md', data: Buffer.from('# x\n') }], created: '2025-01-01T00:00:00Z' });

test('an oci:// plugin in the Higress layout loads, byte-identical to the built module', async () => {
  const digest = await push(higress(), 'fetch/higress', 'v1');
  const got = await fetchPlugin(`oci://${registry.host}/fetch/higress:v1`, { cacheDir: tempDir() });
  assert.equal(got.digest, digest);
  assert.equal(got.format, 'oci');
  assert.equal(got.cached, false);
  assert.ok(Buffer.from(got.wasm).equals(wasm));
});

test('Docker-compat and two-layer wasm images load too', async () => {
  await push(buildDockerPluginImage(wasm), 'fetch/docker', 'v1');
  await push(buildWasmLayerPluginImage(wasm), 'fetch/wasmlayer', 'v1');
  const cacheDir = tempDir();
  const d = await fetchPlugin(`oci://${registry.host}/fetch/docker:v1`, { cacheDir });
  const w = await fetchPlugin(`oci://${registry.host}/fetch/wasmlayer:v1`, { cacheDir });
  assert.equal(d.format, 'docker');
  assert.equal(w.format, 'wasm-layer');
  assert.ok(Buffer.from(d.wasm).equals(wasm));
  assert.ok(Buffer.from(w.wasm).equals(wasm));
});

test('IfNotPresent serves a tag from the cache without contacting the registry', async () => {
  await push(higress(), 'fetch/cached', 'v1');
  const cacheDir = tempDir();
  await fetchPlugin(`oci://${registry.host}/fetch/cached:v1`, { cacheDir });
  registry.reset();
  const again = await fetchPlugin(`oci://${registry.host}/fetch/cached:v1`, { cacheDir });
  assert.equal(again.cached, true);
  assert.equal(registry.requests.length, 0);
});

test(':latest defaults to Always: the manifest is checked, the known module is not downloaded again', async () => {
  await push(higress(), 'fetch/latest', 'latest');
  const cacheDir = tempDir();
  await fetchPlugin(`oci://${registry.host}/fetch/latest`, { cacheDir });
  registry.reset();
  const again = await fetchPlugin(`oci://${registry.host}/fetch/latest:latest`, { cacheDir });
  assert.equal(again.cached, true);
  assert.ok(registry.requests.some((r) => r.path.includes('/manifests/latest')));
  assert.ok(!registry.requests.some((r) => r.path.includes('/blobs/')));
});

test('a sha256 pin of the manifest is enforced', async () => {
  const digest = await push(higress(), 'fetch/pinned', 'v1');
  const ok = await fetchPlugin(`oci://${registry.host}/fetch/pinned:v1`, { cacheDir: tempDir(), sha256: digest.slice(7) });
  assert.equal(ok.digest, digest);
  await assert.rejects(
    fetchPlugin(`oci://${registry.host}/fetch/pinned:v1`, { cacheDir: tempDir(), sha256: sha256Digest(Buffer.from('other')) }),
    (e: Error & { code?: string }) => e.code === 'HP_OCI_DIGEST_MISMATCH' && /pinned/.test(e.message),
  );
  const byDigest = await fetchPlugin(`oci://${registry.host}/fetch/pinned@${digest}`, { cacheDir: tempDir() });
  assert.ok(Buffer.from(byDigest.wasm).equals(wasm));
});

test('when the registry is down the cached module keeps serving and the error is reported', async () => {
  const other = await startRegistry();
  const url = `oci://${other.host}/fetch/down:latest`;
  const r = new Repository(`${other.host}/fetch/down:latest`);
  const img = higress();
  await pushImage(memorySource(img.descriptor, img.manifestBytes, img.blobs), img.descriptor, r, 'latest');
  const cacheDir = tempDir();
  await fetchPlugin(url, { cacheDir });
  await other.stop();
  const served = await fetchPlugin(url, { cacheDir });
  assert.equal(served.cached, true);
  assert.ok(Buffer.from(served.wasm).equals(wasm));
  assert.equal(served.staleError?.code, 'HP_OCI_UNREACHABLE');
  await assert.rejects(fetchPlugin(url, { cacheDir: tempDir() }), (e: Error & { code?: string }) => e.code === 'HP_OCI_UNREACHABLE');
});

test('an image without a plugin layer, or with a non-wasm module, is refused with a clear error', async () => {
  const notWasm = buildWasmLayerPluginImage(Buffer.from('definitely not wasm'));
  await push(notWasm, 'fetch/notwasm', 'v1');
  await assert.rejects(fetchPlugin(`oci://${registry.host}/fetch/notwasm:v1`, { cacheDir: tempDir() }), /not a WebAssembly module/);
  await assert.rejects(fetchPlugin(`oci://${registry.host}/fetch/missing:v1`, { cacheDir: tempDir() }), (e: Error & { code?: string }) => e.code === 'HP_OCI_NAME_UNKNOWN' || e.code === 'HP_OCI_MANIFEST_UNKNOWN');
});

test('the size limit applies to the module', async () => {
  await push(higress(), 'fetch/limit', 'v1');
  await assert.rejects(fetchPlugin(`oci://${registry.host}/fetch/limit:v1`, { cacheDir: tempDir(), maxBytes: 100 }), (e: Error & { code?: string }) => e.code === 'HP_OCI_TOO_LARGE');
});

test('file:// loads raw wasm and plugin.tar.gz; archives with .. or absolute paths or links are refused', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'plugin.wasm'), wasm);
  writeFileSync(join(dir, 'plugin.tar.gz'), pluginArchive(wasm));
  const raw = await fetchPlugin(pathToFileURL(join(dir, 'plugin.wasm')).href);
  const gz = await fetchPlugin(pathToFileURL(join(dir, 'plugin.tar.gz')).href, { sha256: sha256Digest(wasm) });
  assert.ok(Buffer.from(raw.wasm).equals(wasm));
  assert.ok(Buffer.from(gz.wasm).equals(wasm));
  for (const name of ['../plugin.wasm', '/etc/plugin.wasm']) {
    writeFileSync(join(dir, 'evil.tar.gz'), gzipReproducible(createTar([{ name, data: wasm }])));
    await assert.rejects(fetchPlugin(pathToFileURL(join(dir, 'evil.tar.gz')).href), (e: Error & { code?: string }) => e.code === 'HP_OCI_UNSAFE_ARCHIVE');
  }
  const link = createTar([{ name: 'plugin.wasm', data: Buffer.alloc(0) }]);
  link[156] = '2'.charCodeAt(0);
  let sum = 0;
  link.fill(0x20, 148, 156);
  for (let i = 0; i < 512; i++) sum += link[i];
  link.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  writeFileSync(join(dir, 'link.tar.gz'), gzipReproducible(link));
  await assert.rejects(fetchPlugin(pathToFileURL(join(dir, 'link.tar.gz')).href), /link/);
  rmSync(dir, { recursive: true, force: true });
});

test('http(s):// modules are fetched, cached, and served from cache when the server is gone', async () => {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/wasm' });
    res.end(wasm);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/plugin.wasm`;
  const cacheDir = tempDir();
  const first = await fetchPlugin(url, { cacheDir });
  assert.equal(first.digest, sha256Digest(wasm));
  const second = await fetchPlugin(url, { cacheDir });
  assert.equal(second.cached, true);
  assert.equal(hits, 1);
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  const stale = await fetchPlugin(url, { cacheDir, pullPolicy: 'Always' });
  assert.equal(stale.cached, true);
  assert.ok(stale.staleError);
  assert.ok(readdirSync(join(cacheDir, 'modules')).every((f) => !f.includes('.tmp-')));
});

test('an image index is followed to its wasm manifest, and a pin names the index digest', async () => {
  const plugin = higress();
  await push(plugin, 'fetch/indexed', 'plugin-only');
  const other = buildDockerPluginImage(Buffer.from('\0asm\x01\0\0\0'));
  await push(other, 'fetch/indexed', 'other-only');
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { ...other.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
      { ...plugin.descriptor, platform: { os: 'wasip1', architecture: 'wasm' } },
    ],
  }));
  const desc = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256Digest(index), size: index.length };
  await new Repository(`${registry.host}/fetch/indexed`).pushManifest('multi', desc, index);
  const got = await fetchPlugin(`oci://${registry.host}/fetch/indexed:multi`, { cacheDir: tempDir(), sha256: desc.digest });
  assert.equal(got.digest, desc.digest);
  assert.ok(Buffer.from(got.wasm).equals(wasm));
});

test('when a tag is moved to a broken image, the cached module keeps serving and the error is reported', async () => {
  await push(higress(), 'fetch/broken', 'latest');
  const cacheDir = tempDir();
  const good = await fetchPlugin(`oci://${registry.host}/fetch/broken:latest`, { cacheDir });
  await push(buildWasmLayerPluginImage(Buffer.from('garbage, not a module')), 'fetch/broken', 'latest');
  const served = await fetchPlugin(`oci://${registry.host}/fetch/broken:latest`, { cacheDir });
  assert.equal(served.digest, good.digest);
  assert.equal(served.cached, true);
  assert.equal(served.staleError?.code, 'HP_OCI_INVALID_PLUGIN_IMAGE');
});
