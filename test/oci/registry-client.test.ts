import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { Repository } from '../../runtime/oci/registry-client.js';
import { describe } from '../../runtime/oci/descriptor.js';
import { ErrorResponse } from '../../runtime/oci/errors.js';
import { parseReference } from '../../runtime/oci/reference.js';
import { buildPluginImage } from '../../runtime/oci/plugin-image.js';
import { memorySource, pushImage } from '../../runtime/oci/image-copy.js';

let reg: TestRegistry;
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
});

test('references parse with registry, repository, tag and digest', () => {
  const d = `sha256:${'a'.repeat(64)}`;
  assert.deepEqual(parseReference(`oci://127.0.0.1:5000/a/b:v1@${d}`), { registry: '127.0.0.1:5000', repository: 'a/b', tag: 'v1', digest: d });
  assert.deepEqual(parseReference('higress/plugin'), { registry: 'registry-1.docker.io', repository: 'higress/plugin', tag: undefined, digest: undefined });
  assert.throws(() => parseReference('localhost:5000/Upper:v1'), /not a valid repository name/);
  assert.throws(() => parseReference('localhost:5000/a@sha256:xyz'), /not a sha256 digest/);
});

test('a large blob is uploaded in chunks and comes back intact', async () => {
  const data = randomBytes(3 << 20);
  const desc = describe('application/octet-stream', data);
  const repo = new Repository(`${reg.host}/client/chunked`, { monolithicMaxBytes: 1 << 20, chunkBytes: 512 << 10 });
  reg.reset();
  await repo.push(desc, data);
  assert.equal(reg.requests.filter((r) => r.method === 'PATCH').length, 6);
  assert.equal(reg.requests.filter((r) => r.method === 'PUT').length, 1);
  assert.ok(await repo.exists(desc));
  assert.ok((await repo.fetch(desc)).equals(data));
});

test('a small blob is uploaded in one PUT', async () => {
  const data = randomBytes(1000);
  const desc = describe('application/octet-stream', data);
  const repo = new Repository(`${reg.host}/client/mono`);
  reg.reset();
  await repo.push(desc, data);
  assert.deepEqual(reg.requests.map((r) => `${r.method} ${r.status}`), ['POST 202', 'PUT 201']);
});

test('a blob is mounted from another repository without uploading it', async () => {
  const data = randomBytes(2000);
  const desc = describe('application/octet-stream', data);
  await new Repository(`${reg.host}/client/source`).push(desc, data);
  const target = new Repository(`${reg.host}/client/target`);
  assert.equal(await target.exists(desc), false);
  reg.reset();
  assert.equal(await target.mount(desc, 'client/source'), true);
  assert.equal(reg.requests.filter((r) => r.method === 'PUT' || r.method === 'PATCH').length, 0);
  assert.equal(await target.exists(desc), true);
});

test('tag, resolve and tags list agree', async () => {
  const image = buildPluginImage({ wasm: Buffer.from('\0asm\x01\0\0\0'), created: '2025-01-01T00:00:00Z' });
  const repo = new Repository(`${reg.host}/client/tags:v1`);
  await pushImage(memorySource(image.descriptor, image.manifestBytes, image.blobs), image.descriptor, repo, 'v1');
  await repo.tag(image.descriptor, 'stable');
  const resolved = await repo.resolve('stable');
  assert.equal(resolved.digest, image.descriptor.digest);
  assert.equal(resolved.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.deepEqual((await repo.tags()).sort(), ['stable', 'v1']);
  assert.equal(await repo.exists(image.descriptor), true);
});

test('registry errors are parsed into ErrorResponse with method, url, status and codes', async () => {
  const repo = new Repository(`${reg.host}/client/tags`);
  await assert.rejects(repo.fetchManifest('nope'), (e: unknown) => {
    assert.ok(e instanceof ErrorResponse);
    assert.equal(e.method, 'GET');
    assert.equal(e.status, 404);
    assert.match(e.url, /\/v2\/client\/tags\/manifests\/nope$/);
    assert.ok(e.has('MANIFEST_UNKNOWN'));
    assert.equal(e.code, 'HP_OCI_MANIFEST_UNKNOWN');
    return true;
  });
  const unknown = describe('application/octet-stream', Buffer.from('never pushed'));
  await assert.rejects(repo.fetch(unknown), (e: unknown) => e instanceof ErrorResponse && e.has('BLOB_UNKNOWN'));
});

test('pushing content that does not match its descriptor is refused before any request', async () => {
  const desc = describe('application/octet-stream', Buffer.from('one'));
  reg.reset();
  await assert.rejects(new Repository(`${reg.host}/client/x`).push(desc, Buffer.from('two')), /digest mismatch/);
  assert.equal(reg.requests.length, 0);
});

test('an unreachable registry is a clear error', async () => {
  const repo = new Repository('127.0.0.1:1/client/x:v1', { timeoutMs: 2000 });
  await assert.rejects(repo.resolve(), (e: Error & { code?: string }) => e.code === 'HP_OCI_UNREACHABLE' && /cannot reach http:\/\/127\.0\.0\.1:1/.test(e.message));
});

test('a TLS registry with a self-signed certificate needs --insecure', async (t) => {
  const tls = await startRegistry({ tls: true });
  t.after(() => tls.stop());
  const data = Buffer.from('over tls');
  const desc = describe('application/octet-stream', data);
  await assert.rejects(new Repository(`${tls.host}/tls/x`, { plainHttp: false }).push(desc, data), (e: Error & { code?: string }) =>
    e.code === 'HP_OCI_UNREACHABLE' && /https:\/\/127\.0\.0\.1:\d+.*certificate.*pass --insecure/i.test(e.message));
  const repo = new Repository(`${tls.host}/tls/x`, { insecure: true });
  await repo.push(desc, data);
  assert.ok((await repo.fetch(desc)).equals(data));
});

test('reads are retried after transient 503 answers; a lasting failure is reported', async () => {
  const data = Buffer.from('retry me');
  const desc = describe('application/octet-stream', data);
  const repo = new Repository(`${reg.host}/client/retry`);
  await repo.push(desc, data);
  reg.failNext(2, 503);
  assert.ok((await repo.fetch(desc)).equals(data));
  reg.failNext(5, 503);
  await assert.rejects(repo.fetch(desc), (e: unknown) => e instanceof ErrorResponse && e.status === 503 && e.has('UNAVAILABLE'));
  reg.failNext(0, 503);
});

test('a manifest naming blobs the registry lacks is refused with the registry\'s error code', async () => {
  const image = buildPluginImage({ wasm: Buffer.from('\0asm\x01\0\0\0 never pushed'), created: '2025-01-01T00:00:00Z' });
  const repo = new Repository(`${reg.host}/client/partial`);
  await assert.rejects(repo.pushManifest('v1', image.descriptor, image.manifestBytes), (e: unknown) => {
    assert.ok(e instanceof ErrorResponse);
    assert.equal(e.method, 'PUT');
    assert.equal(e.status, 400);
    assert.ok(e.has('MANIFEST_BLOB_UNKNOWN'), e.message);
    return true;
  });
});
