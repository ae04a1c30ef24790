import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { watPlugin, tempDir } from './helpers.js';
import { Repository } from '../../runtime/oci/registry-client.js';
import { buildPluginImage, type BuiltImage } from '../../runtime/oci/plugin-image.js';
import { memorySource, pullImage, pushImage } from '../../runtime/oci/image-copy.js';
import { dockerConfigProvider, defaultCredentialProvider } from '../../runtime/oci/auth/credentials.js';
import { parseChallenge } from '../../runtime/oci/auth/challenge.js';
import { mergeScopes } from '../../runtime/oci/auth/scope.js';
import { ErrorResponse } from '../../runtime/oci/errors.js';
import { fetchPlugin } from '../../runtime/oci/plugin-fetcher.js';

let tokenReg: TestRegistry;
let basicReg: TestRegistry;
let image: BuiltImage;

before(async () => {
  let wasm: Buffer;
  [tokenReg, basicReg, wasm] = await Promise.all([startRegistry({ auth: 'token' }), startRegistry({ auth: 'htpasswd' }), watPlugin()]);
  image = buildPluginImage({ wasm, spec: Buffer.from('apiVersion: 1.0.0\n'), created: '2025-01-01T00:00:00Z' });
});
after(async () => {
  await Promise.all([tokenReg?.stop(), basicReg?.stop()]);
});

const src = () => memorySource(image.descriptor, image.manifestBytes, image.blobs);

test('challenges are parsed with quoted and bare parameters', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  assert.deepEqual(parseChallenge('Basic realm=test'), { scheme: 'basic', params: { realm: 'test' } });
  assert.deepEqual(mergeScopes(['repository:a:pull', 'repository:a:push', 'repository:b:pull']), ['repository:a:pull,push', 'repository:b:pull']);
});

test('the Bearer token flow pushes and pulls against a token-auth registry', async () => {
  const creds = { username: tokenReg.username, password: tokenReg.password };
  const repo = new Repository(`${tokenReg.host}/tok/mini:v1`, { credentials: creds });
  const pushed = await pushImage(src(), image.descriptor, repo, 'v1');
  assert.equal(pushed.digest, image.descriptor.digest);
  const pulled = await pullImage(new Repository(`${tokenReg.host}/tok/mini:v1`, { credentials: creds }), 'v1');
  assert.equal(pulled.descriptor.digest, image.descriptor.digest);
  // Tokens are cached per scope: a second fetch with the same client asks the registry only.
  tokenReg.reset();
  await repo.fetchManifest('v1');
  assert.ok(tokenReg.requests.every((r) => r.status !== 401), JSON.stringify(tokenReg.requests));
});

test('a push asks the token service once per scope set, not once per request', async () => {
  const before = tokenReg.tokensIssued();
  const repo = new Repository(`${tokenReg.host}/tok/count:v1`, { credentials: { username: tokenReg.username, password: tokenReg.password } });
  tokenReg.reset();
  await pushImage(src(), image.descriptor, repo, 'v1');
  const requests = tokenReg.requests.length;
  assert.ok(requests >= 7, `registry saw ${requests} requests`);
  assert.ok(tokenReg.tokensIssued() - before <= 2, `${tokenReg.tokensIssued() - before} tokens for one push`);
});

test('anonymous Bearer tokens allow pull but not push', async () => {
  const anon = new Repository(`${tokenReg.host}/tok/mini:v1`, { credentials: {} });
  const got = await anon.fetchManifest('v1');
  assert.equal(got.descriptor.digest, image.descriptor.digest);
  await assert.rejects(pushImage(src(), image.descriptor, new Repository(`${tokenReg.host}/tok/other:v1`, { credentials: {} }), 'v1'), (e: unknown) => {
    assert.ok(e instanceof ErrorResponse);
    assert.equal(e.status, 401);
    assert.match(e.message, /needs credentials/);
    return true;
  });
});

test('wrong credentials at the token service are reported as such', async () => {
  const repo = new Repository(`${tokenReg.host}/tok/mini:v1`, { credentials: { username: 'tester', password: 'nope' } });
  await assert.rejects(repo.fetchManifest('v1'), /token service rejected the credentials/);
});

test('a docker config identity token is exchanged with the OAuth2 refresh-token grant', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [tokenReg.host]: { identitytoken: `refresh-${tokenReg.password}` } } }));
  const repo = new Repository(`${tokenReg.host}/tok/identity:v1`, { credentials: dockerConfigProvider({ configFile: join(dir, 'config.json') }) });
  const pushed = await pushImage(src(), image.descriptor, repo, 'v1');
  assert.equal(pushed.digest, image.descriptor.digest);
});

test('docker config auths are used (base64 user:password)', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [basicReg.host]: { auth: Buffer.from(`${basicReg.username}:${basicReg.password}`).toString('base64') } } }));
  const repo = new Repository(`${basicReg.host}/dc/mini:v1`, { credentials: dockerConfigProvider({ configFile: join(dir, 'config.json') }) });
  await pushImage(src(), image.descriptor, repo, 'v1');
  assert.equal((await repo.resolve('v1')).digest, image.descriptor.digest);
});

test('a docker credential helper on PATH supplies the credentials (credHelpers and credsStore)', async () => {
  const dir = tempDir();
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const log = join(dir, 'helper.log');
  writeFileSync(join(bin, 'docker-credential-hptest'), `#!/bin/sh\nread server\necho "$1 $server" >> ${log}\nprintf '{"ServerURL":"%s","Username":"${basicReg.username}","Secret":"${basicReg.password}"}' "$server"\n`);
  chmodSync(join(bin, 'docker-credential-hptest'), 0o755);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: dir };
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ credHelpers: { [basicReg.host]: 'hptest' } }));
  const viaHelpers = new Repository(`${basicReg.host}/helper/mini:v1`, { credentials: defaultCredentialProvider(undefined, { env }) });
  await pushImage(src(), image.descriptor, viaHelpers, 'v1');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'hptest' }));
  const got = await fetchPlugin(`oci://${basicReg.host}/helper/mini:v1`, { cacheDir: tempDir(), credentials: defaultCredentialProvider(undefined, { env }) });
  assert.ok(got.wasm.byteLength > 8);
  assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [`get ${basicReg.host}`, `get ${basicReg.host}`]);
});

test('a failing credential helper is a clear error', async () => {
  const dir = tempDir();
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'docker-credential-broken'), '#!/bin/sh\necho "keychain locked" >&2\nexit 3\n');
  chmodSync(join(bin, 'docker-credential-broken'), 0o755);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'broken' }));
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: dir };
  const repo = new Repository(`${basicReg.host}/helper/mini:v1`, { credentials: defaultCredentialProvider(undefined, { env }) });
  await assert.rejects(repo.fetchManifest('v1'), /docker-credential-broken failed \(exit 3\): keychain locked/);
});
