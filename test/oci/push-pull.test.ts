import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { cli, miniProject, tempDir } from './helpers.js';

let open: TestRegistry;
let locked: TestRegistry;
let project: string;

before(async () => {
  project = miniProject();
  const [a, b, built] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' }), cli(['build', project, '--json'])]);
  open = a;
  locked = b;
  assert.equal(built.code, 0, built.stderr);
});
after(async () => {
  await Promise.all([open?.stop(), locked?.stop()]);
});

const uploads = (r: TestRegistry) => r.requests.filter((q) => q.method === 'PUT' || q.method === 'PATCH' || (q.method === 'POST' && q.path.includes('/blobs/uploads')));

function blobPath(reg: TestRegistry, digest: string): string {
  const hex = digest.slice(7);
  return join(reg.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

function corrupt(path: string): void {
  const data = readFileSync(path);
  data[data.length >> 1] ^= 0xff;
  writeFileSync(path, data);
}

test('build → push → pull gives a byte-identical plugin.wasm and the image files', async () => {
  const pushed = await cli(['push', project, `${open.host}/plugins/mini:1.0.0`, '--json']);
  assert.equal(pushed.code, 0, pushed.stderr);
  const pushInfo = JSON.parse(pushed.stdout);
  assert.match(pushInfo.digest, /^sha256:[a-f0-9]{64}$/);
  const out = tempDir();
  const pulled = await cli(['pull', `${open.host}/plugins/mini:1.0.0`, '-o', out, '--json']);
  assert.equal(pulled.code, 0, pulled.stderr);
  const pullInfo = JSON.parse(pulled.stdout);
  assert.equal(pullInfo.digest, pushInfo.digest);
  assert.equal(pullInfo.format, 'oci');
  assert.ok(readFileSync(join(out, 'plugin.wasm')).equals(readFileSync(join(project, 'dist', 'plugin.wasm'))));
  for (const f of ['README.md', 'README_EN.md', 'spec.yaml', 'plugin.tar.gz']) assert.ok(existsSync(join(out, f)), f);
});

test('push prints the manifest digest on its last line', async () => {
  const r = await cli(['push', project, `${open.host}/plugins/printed:v1`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim().split('\n').at(-1)!, /^sha256:[a-f0-9]{64}$/);
});

test('pushing an image the registry already has uploads no blob again', async () => {
  const ref = `${open.host}/plugins/again:v1`;
  assert.equal((await cli(['push', project, ref])).code, 0);
  open.reset();
  const second = await cli(['push', project, ref, '--json']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).uploaded, 0);
  const blobUploads = uploads(open).filter((q) => !q.path.includes('/manifests/'));
  assert.deepEqual(blobUploads, []);
  assert.equal(open.requests.filter((q) => q.method === 'PUT' && q.path.includes('/manifests/')).length, 1);
});

test('the same image pushed under a second tag uploads only the manifest', async () => {
  open.reset();
  const r = await cli(['push', project, `${open.host}/plugins/again:v2`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).uploaded, 0);
});

test('an htpasswd registry accepts -u/-p and --password-stdin, and the image round-trips', async () => {
  const ref = `${locked.host}/secure/mini:v1`;
  const pushed = await cli(['push', project, ref, '-u', locked.username!, '-p', locked.password!]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const out = tempDir();
  const pulled = await cli(['pull', ref, '-o', out, '-u', locked.username!, '--password-stdin'], { input: `${locked.password}\n` });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.ok(readFileSync(join(out, 'plugin.wasm')).equals(readFileSync(join(project, 'dist', 'plugin.wasm'))));
});

test('credentials from the environment are used', async () => {
  const r = await cli(['pull', `${locked.host}/secure/mini:v1`, '-o', tempDir()], { env: { HIGRESS_PLUGIN_REGISTRY_USERNAME: locked.username, HIGRESS_PLUGIN_REGISTRY_PASSWORD: locked.password } });
  assert.equal(r.code, 0, r.stderr);
});

test('wrong credentials give a clear error naming the user', async () => {
  const r = await cli(['push', project, `${locked.host}/secure/mini:v1`, '-u', locked.username!, '-p', 'wrong']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /401/);
  assert.match(r.stderr, /rejected the credentials of user "tester"/);
  assert.match(r.stderr, /HP_OCI_UNAUTHORIZED/);
});

test('no credentials for a registry that needs them says how to give them', async () => {
  const r = await cli(['pull', `${locked.host}/secure/mini:v1`, '-o', tempDir()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /needs credentials: pass -u\/-p/);
});

test('an unknown repository and an unknown tag are named in the error', async () => {
  const repo = await cli(['pull', `${open.host}/nobody/here:v1`, '-o', tempDir()]);
  assert.equal(repo.code, 1);
  assert.match(repo.stderr, /NAME_UNKNOWN/);
  assert.match(repo.stderr, /repository 127\.0\.0\.1:\d+\/nobody\/here does not exist/);
  const tag = await cli(['pull', `${open.host}/plugins/mini:9.9.9`, '-o', tempDir()]);
  assert.equal(tag.code, 1);
  assert.match(tag.stderr, /MANIFEST_UNKNOWN/);
  assert.match(tag.stderr, /manifest 9\.9\.9 not found/);
});

test('a manifest whose bytes do not match its digest is refused', async (t) => {
  // Storage is content-addressed and shared by repositories: tamper in a registry of its own.
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const pushed = JSON.parse((await cli(['push', project, `${reg.host}/tamper/manifest:v1`, '--json'])).stdout);
  corrupt(blobPath(reg, pushed.digest));
  const r = await cli(['pull', `${reg.host}/tamper/manifest:v1`, '-o', tempDir()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /digest mismatch for manifest/);
  assert.match(r.stderr, /HP_OCI_DIGEST_MISMATCH/);
});

test('a corrupt blob in the registry is detected on pull', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const ref = `${reg.host}/tamper/blob:v1`;
  assert.equal((await cli(['push', project, ref])).code, 0);
  const layout = JSON.parse(readFileSync(join(project, 'dist', 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(project, 'dist', 'blobs', 'sha256', layout.manifests[0].digest.slice(7)), 'utf8'));
  const archive = manifest.layers.at(-1).digest as string;
  corrupt(blobPath(reg, archive));
  const r = await cli(['pull', ref, '-o', tempDir()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`digest mismatch for blob ${archive}`));
});

test('plain HTTP is refused for a non-loopback host unless --plain-http is given', async () => {
  // localhost.localdomain-style names are not loopback by our rule: the client must try HTTPS.
  const host = open.host.replace('127.0.0.1', 'localtest.invalid');
  const r = await cli(['pull', `${host}/plugins/mini:1.0.0`, '-o', tempDir()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /https:\/\/localtest\.invalid/);
});

test('pull --layout writes an OCI image layout that pushes back to the same digest', async () => {
  const out = tempDir();
  const pulled = await cli(['pull', `${open.host}/plugins/mini:1.0.0`, '-o', out, '--layout', '--json']);
  assert.equal(pulled.code, 0, pulled.stderr);
  const digest = JSON.parse(pulled.stdout).digest;
  assert.ok(existsSync(join(out, 'oci', 'oci-layout')));
  const pushed = await cli(['push', join(out, 'oci'), `${open.host}/plugins/copy:1.0.0`, '--json']);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.equal(JSON.parse(pushed.stdout).digest, digest);
});
