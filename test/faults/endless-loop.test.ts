// A plugin stuck in an endless loop in on_request_headers, with the gateway in worker mode: the
// loop costs at most the watchdog limit and one worker restart. The stuck request is reset, the
// other worker keeps serving every other request meanwhile, exactly one replacement happens, and
// it is counted in /stats/prometheus and logged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startGateway, type Gateway } from '../../runtime/gateway/index.js';
import { faultPlugin } from '../fault-plugins/fault-plugins.js';
import { captureStderr, once, sample, send, tempDir, upstream, type Upstream } from './harness.js';

const WATCHDOG_MS = 600;
let up: Upstream;
let dir: Awaited<ReturnType<typeof tempDir>>;
let gw: Gateway;
let url = '';
let log: ReturnType<typeof captureStderr>;

before(async () => {
  up = await upstream();
  dir = await tempDir('loop-');
  const loop = await faultPlugin(dir.dir, 'endless-loop');
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  await dir.write('gw.yaml', `settings: { accessLog: "off" }
listeners: [{ name: main, address: 127.0.0.1, port: ${port} }]
services: [{ name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }]
routes:
  - { name: default/looping, path: /looping, service: up.svc }
  - { name: default/other, path: /, service: up.svc }
plugins: [{ name: looper, url: "${loop}", failStrategy: FAIL_CLOSE, configDisable: true, rules: [{ routes: [default/looping] }] }]
`);
  log = captureStderr();
  gw = await startGateway({ paths: [dir.dir], workers: 2, watchdogMs: WATCHDOG_MS, watch: false, load: { adminPort: 0 } });
  url = `http://127.0.0.1:${port}`;
});

after(async () => {
  log?.stop();
  await gw?.close();
  await up?.close();
  await dir?.remove();
});

test('an endless loop in on_request_headers costs at most the watchdog limit and one worker restart; other requests are served', async () => {
  const before = gw.workerPids();
  for (let i = 0; i < 4; i++) assert.equal((await once(`${url}/warm${i}`)).status, 200);
  const started = Date.now();
  const stuck = once(`${url}/looping`, { headers: { 'x-fault': '1' }, timeoutMs: 10_000 });
  // While one worker spins, new clients arrive every 100 ms; none may wait longer than the watchdog limit (plus slack).
  const others: Array<Promise<{ status: number; error?: string; ms: number }>> = [];
  for (let i = 0; i < 8; i++) {
    const t0 = Date.now();
    others.push(once(`${url}/other${i}`, { timeoutMs: WATCHDOG_MS + 3000 }).then((r) => ({ ...r, ms: Date.now() - t0 })));
    await new Promise((res) => setTimeout(res, 100));
  }
  const r = await stuck;
  const cost = Date.now() - started;
  assert.equal(r.status, 0, 'the stuck request is reset, not answered');
  assert.notEqual(r.error, 'timeout');
  assert.ok(cost < WATCHDOG_MS + 1500, `the loop cost ${cost} ms (watchdog ${WATCHDOG_MS} ms)`);
  const results = await Promise.all(others);
  const hung = results.filter((x) => x.error === 'timeout');
  assert.equal(hung.length, 0, `clients that arrived during the loop hung: ${JSON.stringify(results)}`);
  const failed = results.filter((x) => x.status !== 200);
  assert.ok(failed.length <= 1, `at most the one connection the stuck worker had accepted is reset: ${JSON.stringify(results)}`);
  while (gw.workerPids().length < 2) await new Promise((res) => setTimeout(res, 50));
  const after = gw.workerPids();
  assert.equal(after.filter((p) => !before.includes(p)).length, 1, 'exactly one worker was replaced');
  assert.equal(gw.watchdogKills(), 1);
  for (let i = 0; i < 6; i++) assert.equal((await once(`${url}/after${i}`)).status, 200, 'the replacement serves');
  const prom = (await send(`http://127.0.0.1:${gw.adminPort}/stats/prometheus`)).text;
  assert.equal(sample(prom, 'gateway_watchdog_worker_replacements_total'), 1);
  assert.match(log.text(), /watchdog: worker \d+ blocked for more than 600 ms/, 'the replacement is in the log');
});
