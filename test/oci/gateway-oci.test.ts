import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { compilePlugin } from '../../cli/compile.js';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { cli, tempDir } from './helpers.js';
import { ingressToUp, wasmPluginOnRoutes } from '../gateway/helpers.js';
import { buildDockerPluginImage, buildPluginImage, buildWasmLayerPluginImage, type BuiltImage } from '../../runtime/oci/plugin-image.js';
import { ImageLayout } from '../../runtime/oci/image-layout.js';
import { memorySource, pushImage } from '../../runtime/oci/image-copy.js';
import { Repository } from '../../runtime/oci/registry-client.js';
import { startGateway, type Gateway } from '../../runtime/gateway/index.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

const HELLO_DIR = join(PACKAGE_ROOT, 'examples', 'hello-world');
let registry: TestRegistry;
let upstream: Server;
let gw: Gateway | undefined;
let upstreamPort: number;

/** hello-world as compiled by scripts/build.js (compiled here when the build has not run). */
async function helloWasm(): Promise<Buffer> {
  const prebuilt = join(HELLO_DIR, 'build', 'plugin.wasm');
  if (existsSync(prebuilt)) return readFileSync(prebuilt);
  const out = join(tempDir(), 'plugin.wasm');
  await compilePlugin({ dir: HELLO_DIR, outFile: out });
  return readFileSync(out);
}

before(async () => {
  registry = await startRegistry();
  upstream = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ headers: req.headers }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as AddressInfo).port;
});
after(async () => {
  await gw?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((r) => upstream?.close(() => r()));
  await registry?.stop();
});

async function pushBuilt(image: BuiltImage, repo: string): Promise<void> {
  await pushImage(memorySource(image.descriptor, image.manifestBytes, image.blobs), image.descriptor, new Repository(`${registry.host}/${repo}:v1`), 'v1');
}

const plugin = (name: string, url: string, route: string, value: string) =>
  wasmPluginOnRoutes({ name, url, routes: [`default/${route}`], config: { header: 'x-hello', value } }) + ingressToUp(route, `/${route}`);

test('plugins pushed to a registry run in the gateway from oci:// URLs in all three image formats', async () => {
  const wasm = await helloWasm();
  // The Higress layout goes through the real CLI push from an image layout folder.
  const layoutDir = tempDir();
  const image = buildPluginImage({ wasm, spec: readFileSync(join(HELLO_DIR, 'spec.yaml')), readmes: [{ name: 'README.md', data: readFileSync(join(HELLO_DIR, 'README.md')) }], created: '2025-01-01T00:00:00Z' });
  const layout = new ImageLayout(layoutDir);
  await layout.init();
  for (const d of [image.manifest.config, ...image.manifest.layers]) await layout.push(d, image.blobs.get(d.digest)!);
  await layout.push(image.descriptor, image.manifestBytes);
  await layout.tag(image.descriptor, 'v1');
  const pushed = await cli(['push', layoutDir, `${registry.host}/gw/higress:v1`]);
  assert.equal(pushed.code, 0, pushed.stderr);
  await pushBuilt(buildDockerPluginImage(wasm), 'gw/docker');
  await pushBuilt(buildWasmLayerPluginImage(wasm), 'gw/wasmlayer');

  const dir = tempDir();
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, `settings:\n  accessLog: "off"\n---\napiVersion: networking.higress.io/v1\nkind: McpBridge\nmetadata: { name: default, namespace: higress-system }\nspec:\n  registries:\n    - { type: static, name: up, domain: "127.0.0.1:${upstreamPort}", port: 80 }\n` +
    plugin('p-higress', `oci://${registry.host}/gw/higress:v1`, 'higress', 'from-higress-layout') +
    plugin('p-docker', `oci://${registry.host}/gw/docker:v1`, 'docker', 'from-docker-layout') +
    plugin('p-wasmlayer', `oci://${registry.host}/gw/wasmlayer:v1`, 'wasmlayer', 'from-wasm-layer'));
  gw = await startGateway({ paths: [config], workers: 0, watch: false, cacheDir: join(dir, 'cache'), load: { port: 0, httpsPort: 0, address: '127.0.0.1', adminPort: 0 } });
  const port = Object.values(gw.ports())[0];
  for (const [route, value] of [['higress', 'from-higress-layout'], ['docker', 'from-docker-layout'], ['wasmlayer', 'from-wasm-layer']]) {
    const r = await request(`http://127.0.0.1:${port}/${route}`);
    const body = JSON.parse(await r.body.text());
    assert.equal(r.statusCode, 200, route);
    assert.equal(body.headers['x-hello'], value, route);
  }
});
