// A plugin served from the cache because its source failed is reported: the config dump marks
// it stale with the (redacted) error, and Prometheus says gateway_plugin_stale 1 until a good
// fetch clears it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { faultWasm } from '../fault-plugins/fault-plugins.js';
import { captureStderr, gateway, prometheus, sample, send, tempDir, upstream } from '../faults/harness.js';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

test('a plugin whose source fails is served from the cache and shown stale in /config_dump and /stats/prometheus', async () => {
  const wasm = await faultWasm('noop');
  let failing = false;
  const source = http.createServer((req, res) => {
    if (failing) { res.writeHead(503); return res.end('down'); }
    res.writeHead(200, { 'content-type': 'application/wasm' });
    res.end(wasm);
  });
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => { source.closeAllConnections(); source.close(() => r()); }));
  const up = await upstream();
  cleanup.push(() => up.close());
  const dir = await tempDir('stale-');
  cleanup.push(() => dir.remove());
  const savedCache = process.env.HIGRESS_PLUGIN_CACHE_DIR;
  process.env.HIGRESS_PLUGIN_CACHE_DIR = `${dir.dir}/cache`;
  cleanup.push(() => { if (savedCache === undefined) delete process.env.HIGRESS_PLUGIN_CACHE_DIR; else process.env.HIGRESS_PLUGIN_CACHE_DIR = savedCache; });
  const url = `http://127.0.0.1:${(source.address() as AddressInfo).port}/plugin.wasm`;
  const file = await dir.write('gw.yaml', `settings: { accessLog: "off" }
services: [{ name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }]
routes: [{ name: default/main, path: /, service: up.svc }]
plugins: [{ name: pulled, url: "${url}", imagePullPolicy: Always }]
`);
  const gw = await gateway([file]);
  cleanup.push(() => gw.close());
  const pluginOf = async () => ((await send(`${gw.admin}/config_dump`)).text && JSON.parse((await send(`${gw.admin}/config_dump`)).text).plugins[0]) as Record<string, unknown>;

  assert.equal((await pluginOf()).stale, undefined, 'a fresh plugin is not marked stale');
  assert.equal(sample(await prometheus(gw), 'gateway_plugin_stale{plugin="pulled"}'), 0);

  failing = true;
  const log = captureStderr();
  let reload;
  try {
    reload = await send(`${gw.admin}/reload`, { method: 'POST' });
  } finally {
    log.stop();
  }
  assert.equal(reload.status, 200, 'the cached module keeps serving');
  assert.equal((await send(gw.url)).status, 200);
  const p = await pluginOf();
  assert.equal(p.stale, true);
  assert.match(String(p.staleError), /503/);
  assert.equal(sample(await prometheus(gw), 'gateway_plugin_stale{plugin="pulled"}'), 1);

  failing = false;
  assert.equal((await send(`${gw.admin}/reload`, { method: 'POST' })).status, 200);
  assert.equal((await pluginOf()).stale, undefined, 'a good fetch clears the stale mark');
  assert.equal(sample(await prometheus(gw), 'gateway_plugin_stale{plugin="pulled"}'), 0);
});
