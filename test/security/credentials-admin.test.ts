// Secrets and exposure: the admin API listens on 127.0.0.1 unless configured otherwise, and
// registry credentials never appear in reload errors, the config dump, Prometheus text or the
// log, whether the pull fails or succeeds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import { buildPluginImage } from '../../runtime/oci/plugin-image.js';
import { faultWasm } from '../fault-plugins/fault-plugins.js';
import { captureStderr, gateway, send, tempDir, upstream, type Upstream } from '../faults/harness.js';

const USER = 'proof-user';
const PASSWORD = 'S3cret-registry-passw0rd';
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
const SECRETS = [PASSWORD, BASIC, encodeURIComponent(PASSWORD)];

let up: Upstream;
let registry: http.Server;
let registryHost = '';
let acceptPassword = false;
let dir: Awaited<ReturnType<typeof tempDir>>;
const saved: Record<string, string | undefined> = {};

function noSecrets(text: string, where: string): void {
  for (const s of SECRETS) assert.equal(text.includes(s), false, `${where} contains a credential`);
}

before(async () => {
  up = await upstream();
  const img = buildPluginImage({ wasm: await faultWasm('noop'), created: '2026-01-01T00:00:00Z' });
  // A registry that wants Basic credentials; it accepts them only when `acceptPassword` is set.
  registry = http.createServer((req, res) => {
    const ok = acceptPassword && req.headers.authorization === `Basic ${BASIC}`;
    if (!ok) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="proof"', 'content-type': 'application/json' });
      return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    const url = req.url ?? '';
    if (url === '/v2/') return res.end('{}');
    if (url.includes('/manifests/')) {
      res.writeHead(200, { 'content-type': img.descriptor.mediaType, 'docker-content-digest': img.descriptor.digest });
      return res.end(req.method === 'HEAD' ? undefined : img.manifestBytes);
    }
    const blob = img.blobs.get(url.split('/').pop() ?? '');
    if (!blob) { res.writeHead(404); return res.end(); }
    res.end(blob);
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  registryHost = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
  dir = await tempDir('creds-');
  for (const k of ['HIGRESS_PLUGIN_REGISTRY_USERNAME', 'HIGRESS_PLUGIN_REGISTRY_PASSWORD', 'DOCKER_CONFIG']) saved[k] = process.env[k];
  process.env.HIGRESS_PLUGIN_REGISTRY_USERNAME = USER;
  process.env.HIGRESS_PLUGIN_REGISTRY_PASSWORD = PASSWORD;
  process.env.DOCKER_CONFIG = dir.dir; // no docker config of this machine is read
});

after(async () => {
  for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  await up?.close();
  registry.closeAllConnections();
  await new Promise<void>((r) => registry.close(() => r()));
  await dir?.remove();
});

function config(pluginUrl?: string, extra = ''): string {
  return `settings: { accessLog: "off" }
${extra}services: [{ name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }]
routes: [{ name: default/main, path: /, service: up.svc }]
${pluginUrl ? `plugins: [{ name: pulled, url: "${pluginUrl}", imagePullPolicy: Always, config: { a: 1 } }]\n` : ''}`;
}

test('the admin API listens on 127.0.0.1 only by default: unreachable on the machine\'s other addresses', async () => {
  await dir.write('admin.yaml', config());
  const gw = await gateway([`${dir.dir}/admin.yaml`]);
  try {
    assert.equal((await send(`${gw.admin}/ready`)).status, 200);
    const external = Object.values(networkInterfaces()).flat().filter((i) => i && !i.internal && i.family === 'IPv4').map((i) => i!.address);
    for (const addr of external) {
      const reached = await new Promise<boolean>((resolve) => {
        const s = net.connect(gw.adminPort, addr);
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
      assert.equal(reached, false, `admin API reachable on ${addr}`);
    }
    const dump = JSON.parse((await send(`${gw.admin}/config_dump`)).text);
    assert.equal(dump.admin ?? undefined, undefined);
  } finally {
    await gw.close();
  }
});

test('registry credentials never appear in a failed reload, the config dump, Prometheus text or the log', async () => {
  acceptPassword = false;
  await dir.write('creds.yaml', config());
  const log = captureStderr();
  const gw = await gateway([`${dir.dir}/creds.yaml`], { cacheDir: `${dir.dir}/cache` });
  try {
    await dir.write('creds.yaml', config(`oci://${registryHost}/plugins/secret:1.0.0`));
    const r = await send(`${gw.admin}/reload`, { method: 'POST' });
    assert.equal(r.status, 400);
    assert.match(r.text, /401|UNAUTHORIZED|credentials/i, 'the failure says what went wrong');
    noSecrets(r.text, 'the reload answer');
    noSecrets((await send(`${gw.admin}/config_dump`)).text, 'config_dump');
    noSecrets((await send(`${gw.admin}/stats/prometheus`)).text, 'prometheus');
    // Now the registry accepts them: the pull works, and still nothing shows them.
    acceptPassword = true;
    const ok = await send(`${gw.admin}/reload`, { method: 'POST' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await send(`${gw.url}/`)).status, 200);
    noSecrets((await send(`${gw.admin}/config_dump`)).text, 'config_dump after a successful pull');
  } finally {
    log.stop();
    await gw.close();
  }
  noSecrets(log.text(), 'the log');
});

test('a password written into a plugin URL is not echoed back in errors or the config dump', async () => {
  await dir.write('url.yaml', config());
  const gw = await gateway([`${dir.dir}/url.yaml`], { cacheDir: `${dir.dir}/cache2` });
  try {
    await dir.write('url.yaml', config(`oci://${USER}:${PASSWORD}@${registryHost}/plugins/secret:1.0.0`));
    const r = await send(`${gw.admin}/reload`, { method: 'POST' });
    assert.equal(r.status, 400);
    noSecrets(r.text, 'the reload answer');
    noSecrets((await send(`${gw.admin}/config_dump`)).text, 'config_dump');
  } finally {
    await gw.close();
  }
});
