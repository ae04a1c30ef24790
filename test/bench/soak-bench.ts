/**
 * Soak benchmark (`npm run bench -- soak`, or standalone `node dist/test/bench/soak-bench.js`):
 * sustained load through a three-plugin chain on a gateway worker process while a plugin is
 * swapped every 10 s (new configuration each time, alternating between two module builds), for
 * 10 minutes. Prints worker RSS at start (after a warm-up) and end, requests, errors and swaps.
 * Aim: zero errors, RSS growth under 10%.
 *
 * Environment: `SOAK_SECONDS` (default 600), `SOAK_SWAP_SECONDS` (default 10),
 * `SOAK_CONNECTIONS` (default 20), `SOAK_WARMUP_SECONDS` (default 10, or a fifth of a short run).
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { startGateway } from '../../runtime/gateway/index.js';
import { faultWasm } from '../fault-plugins/fault-plugins.js';
import { freePort } from '../fixtures/free-port.js';

interface BenchRow { name: string; value: number; unit: string; note?: string }

const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);

/** Resident set size of a process in bytes (Linux /proc). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Runs the soak and returns its rows. */
export async function run(): Promise<BenchRow[]> {
  const seconds = num('SOAK_SECONDS', 600);
  const swapEvery = num('SOAK_SWAP_SECONDS', 10);
  const connections = num('SOAK_CONNECTIONS', 20);
  const warmup = num('SOAK_WARMUP_SECONDS', Math.min(10, seconds / 5));
  const dir = await mkdtemp(join(tmpdir(), 'soak-'));
  const body = Buffer.alloc(1024, 120);
  const up = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }); res.end(body); });
  });
  up.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const upPort = (up.address() as AddressInfo).port;
  const port = await freePort();
  // Two builds of the swapped plugin (different bytes, different digests), plus a fixed AS example and a no-op.
  const builds = [await faultWasm('tag', { tag: 'build-a' }), await faultWasm('tag', { tag: 'build-b' })];
  const buildUrls = await Promise.all(builds.map(async (b, i) => { const f = join(dir, `swapped-${i}.wasm`); await writeFile(f, b); return pathToFileURL(f).href; }));
  const noop = join(dir, 'noop.wasm');
  await writeFile(noop, await faultWasm('noop'));
  const block = pathToFileURL(join(PACKAGE_ROOT, 'examples/request-block/build/plugin.wasm')).href;
  const configFile = join(dir, 'gw.yaml');
  const writeConfig = (swap: number) => writeFile(configFile, `settings: { accessLog: "off" }
listeners: [{ name: main, address: 127.0.0.1, port: ${port} }]
services: [{ name: up.svc, endpoints: ["127.0.0.1:${upPort}"] }]
routes: [{ name: default/main, path: /, service: up.svc }]
plugins:
  - { name: request-block, url: "${block}", phase: AUTHN, config: { block_urls: [swagger.html, foo=bar], block_headers: [example-key], blocked_code: 403 } }
  - { name: swapped, url: "${buildUrls[swap % 2]}", phase: STATS, config: { swap: ${swap} } }
  - { name: noop, url: "${pathToFileURL(noop).href}", config: { on: true } }
`);
  await writeConfig(0);
  const gw = await startGateway({ paths: [configFile], workers: 1, watch: false, load: { adminPort: 0 } });
  const worker = gw.workerPids()[0];
  const agent = new Agent({ connections, keepAliveTimeout: 60_000 });
  const url = `http://127.0.0.1:${port}/soak`;
  let requests = 0;
  let errors = 0;
  const errorKinds = new Map<string, number>();
  let stop = false;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const workers = Array.from({ length: connections }, async () => {
    while (!stop) {
      try {
        const r = await request(url, { dispatcher: agent });
        const text = await r.body.text();
        if (r.statusCode === 200 && text.length === body.length) requests++;
        else { errors++; errorKinds.set(`status ${r.statusCode}`, (errorKinds.get(`status ${r.statusCode}`) ?? 0) + 1); }
      } catch (err) {
        errors++;
        const k = String((err as { code?: string }).code ?? (err as Error).message);
        errorKinds.set(k, (errorKinds.get(k) ?? 0) + 1);
      }
    }
  });
  let swaps = 0;
  let swapFailures = 0;
  const reloadMs: number[] = [];
  const swapper = (async () => {
    while (Date.now() + swapEvery * 1000 <= deadline) {
      await new Promise((r) => setTimeout(r, swapEvery * 1000));
      swaps++;
      await writeConfig(swaps);
      const r = await gw.reload();
      if (r.ok) reloadMs.push(r.durationMs); else swapFailures++;
    }
  })();
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const rssStart = rssOf(worker);
  const requestsAtStart = requests;
  const primaryStart = process.memoryUsage().rss;
  const progress = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    process.stderr.write(`soak ${s}/${seconds} s: ${requests} requests, ${errors} errors, ${swaps} swaps, worker RSS ${(rssOf(worker) / 1048576).toFixed(1)} MiB\n`);
  }, 30_000);
  await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())));
  stop = true;
  await Promise.all(workers);
  await swapper;
  clearInterval(progress);
  const rssEnd = rssOf(worker);
  const primaryEnd = process.memoryUsage().rss;
  const elapsed = (Date.now() - started) / 1000;
  await agent.close();
  await gw.close();
  up.closeAllConnections();
  await new Promise<void>((r) => up.close(() => r()));
  await rm(dir, { recursive: true, force: true });
  const growth = ((rssEnd - rssStart) / rssStart) * 100;
  const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
  reloadMs.sort((a, b) => a - b);
  const kinds = [...errorKinds].map(([k, v]) => `${k}×${v}`).join(', ');
  return [
    { name: 'soak duration', value: elapsed, unit: 's', note: `${connections} connections, 1 KiB responses, chain: request-block (AssemblyScript) → swapped (WAT, 2 builds) → noop` },
    { name: 'requests', value: requests, unit: 'req', note: `${Math.round(requests / elapsed)} req/s; ${requests - requestsAtStart} after warm-up` },
    { name: 'errors', value: errors, unit: 'req', note: kinds || 'aim: 0' },
    { name: 'plugin swaps', value: swaps, unit: 'swaps', note: `every ${swapEvery} s; ${swapFailures} failed; reload p50 ${reloadMs[reloadMs.length >> 1]?.toFixed(1) ?? '-'} ms, max ${reloadMs.at(-1)?.toFixed(1) ?? '-'} ms` },
    { name: 'worker RSS start', value: mib(rssStart), unit: 'MiB', note: `after ${warmup} s warm-up` },
    { name: 'worker RSS end', value: mib(rssEnd), unit: 'MiB' },
    { name: 'worker RSS growth', value: growth, unit: '%', note: 'aim: < 10%' },
    { name: 'primary RSS start/end', value: mib(primaryEnd), unit: 'MiB', note: `start ${mib(primaryStart)} MiB (includes the load generator)` },
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await run();
  for (const r of rows) console.log(`${r.name.padEnd(24)} ${String(Math.round(r.value * 100) / 100).padStart(10)} ${r.unit.padEnd(6)} ${r.note ?? ''}`);
}
