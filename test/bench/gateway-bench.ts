/**
 * Gateway benchmark: wrk (HTTP/1.1, 50 connections, 1 KB responses) against the same upstream
 * directly, through our gateway (no plugin, one no-op plugin, three example plugins), nginx,
 * http-proxy with a keep-alive agent and a bare undici proxy — each in its own single process.
 * Then hot reload under load: plugin swaps and route changes during a load run, counting lost
 * requests and the config-write → new-behaviour latency.
 *
 * `node dist/test/bench/gateway-bench.js` runs it standalone (`… gateway-bench.js reload`: only the
 * reload case); `npm run bench` runs it with the others.
 * The throughput cases run in interleaved rounds (see `run`).
 * Env: GATEWAY_BENCH_SECONDS (per case and round, default 3), GATEWAY_BENCH_ROUNDS (default 5),
 * GATEWAY_BENCH_PAIRS (paired runs per target ratio, default 8), GATEWAY_BENCH_RELOADS (plugin swaps and route
 * changes, default 100 each), GATEWAY_BENCH_RELOAD_SECONDS (wrk run of the reload case, default 30),
 * GATEWAY_BENCH_CPU_PROF (a folder: the reload case's gateway writes a --cpu-prof profile there).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { watPlugin } from '../gateway/wat-plugins.js';
import { freePort } from '../fixtures/free-port.js';

export interface BenchRow { name: string; value: number; unit: string; note?: string }

const SECONDS = Number(process.env.GATEWAY_BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.GATEWAY_BENCH_ROUNDS ?? 5);
const PAIRS = Number(process.env.GATEWAY_BENCH_PAIRS ?? 8);
const PAIR_SECONDS = 2;
const RELOADS = Number(process.env.GATEWAY_BENCH_RELOADS ?? 100);
const RELOAD_SECONDS = Number(process.env.GATEWAY_BENCH_RELOAD_SECONDS ?? 30);
export const BIN = join(PACKAGE_ROOT, 'bin', 'higress-plugin.js');
const example = (n: string) => pathToFileURL(join(PACKAGE_ROOT, 'examples', n, 'build', 'plugin.wasm')).href;

export async function waitPort(port: number, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => { res.resume(); r(true); });
      req.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing answered on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function node(script: string, args: string[] = []): ChildProcess {
  return spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['ignore', 'ignore', 'inherit'], cwd: PACKAGE_ROOT });
}

/** The upstream every case proxies to: 1 KB answers, `x-upstream` echoing the path. */
export const UPSTREAM = `import http from 'node:http'; const b = Buffer.alloc(1024, 120);
http.createServer((q, s) => { q.resume(); s.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1024, 'x-upstream': q.url }); s.end(b); }).listen(+process.argv[1], '127.0.0.1');`;

const UNDICI_PROXY = `import http from 'node:http'; import { Pool } from 'undici';
const pool = new Pool('http://127.0.0.1:' + process.argv[2], { connections: 128 });
http.createServer(async (req, res) => {
  try {
    const r = await pool.request({ method: req.method, path: req.url, headers: req.headers, body: req.method === 'GET' ? null : req });
    const h = {}; for (const k in r.headers) if (k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') h[k] = r.headers[k];
    res.writeHead(r.statusCode, h); r.body.pipe(res);
  } catch (e) { res.statusCode = 502; res.end(); }
}).listen(+process.argv[1], '127.0.0.1');`;

const HTTP_PROXY = `import http from 'node:http'; import httpProxy from 'http-proxy';
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target: 'http://127.0.0.1:' + process.argv[2], agent });
proxy.on('error', (e, req, res) => { res.statusCode = 502; res.end(); });
http.createServer((req, res) => proxy.web(req, res)).listen(+process.argv[1], '127.0.0.1');`;

/** The benches' chain of three example plugins, in chain order (key-auth runs first, in AUTHN); requests must carry `x-api-key: bench-key`. */
export const EXAMPLE_CHAIN: ReadonlyArray<{ name: string; phase?: string; config: unknown }> = [
  { name: 'key-auth', phase: 'AUTHN', config: { consumers: [{ name: 'bench', credential: 'bench-key' }], keys: ['x-api-key'], in_header: true } },
  { name: 'request-block', config: { block_urls: ['swagger.html'], case_sensitive: false } },
  { name: 'hello-world', config: { header: 'x-hello', value: 'bench' } },
];

/** {@link EXAMPLE_CHAIN} as the native config's plugin list. */
export const CHAIN_PLUGINS = EXAMPLE_CHAIN.map((p) => `  - { name: ${p.name}, url: ${example(p.name)}${p.phase ? `, phase: ${p.phase}` : ''}, config: ${JSON.stringify(p.config)} }\n`).join('');

interface WrkResult { rps: number; requests: number; p99ms: number; errors: number; read: number; write: number; non2xx: number }

function parseMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

function wrk(url: string, seconds: number, headers: string[] = []): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const args = ['-t1', '-c50', `-d${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
    const p = spawn('wrk', args);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', () => {
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
      const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
      const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = se ? se.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      resolve({ rps, requests, p99ms: p99 ? parseMs(p99[1], p99[2]) : NaN, errors, read: Number(se?.[2] ?? 0), write: Number(se?.[3] ?? 0), non2xx });
    });
  });
}

/** CPU time in ms of a process and its children (nginx's worker), from /proc; undefined where that is unreadable. */
function cpuMs(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  const ticks = (p: string): number => {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in 1/100 s
  };
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return (ticks(String(pid)) + kids.reduce((n, k) => n + ticks(k), 0)) * 10;
  } catch {
    return undefined;
  }
}

/** A wrk run plus the server's CPU µs per request over it (NaN when unknown). */
async function measure(c: Case, seconds: number): Promise<WrkResult & { cpuUs: number }> {
  const before = cpuMs(c.pid);
  const r = await wrk(c.url, seconds, c.headers);
  const after = cpuMs(c.pid);
  return { ...r, cpuUs: before !== undefined && after !== undefined && r.requests ? ((after - before) * 1000) / r.requests : NaN };
}

export function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => { p.once('exit', () => r()); p.kill('SIGTERM'); setTimeout(() => p.kill('SIGKILL'), 3000).unref(); });
}

export function gatewayYaml(upPort: number, plugins: string, extra = ''): string {
  return `settings: { accessLog: "off", pluginLogLevel: warn }
services:
  - { name: up.svc, endpoints: ["127.0.0.1:${upPort}"] }
  - { name: up2.svc, endpoints: ["127.0.0.1:${upPort}"] }
routes:
${extra}  - { name: bench/main, path: /, service: up.svc }
${plugins ? `plugins:\n${plugins}` : ''}`;
}

async function startGateway(dir: string, name: string, yaml: string, cpuProfDir?: string): Promise<{ proc: ChildProcess; port: number; admin: number }> {
  const cdir = join(dir, name);
  await rm(cdir, { recursive: true, force: true });
  execFileSync('mkdir', ['-p', cdir]);
  await writeFile(join(cdir, 'gw.yaml'), yaml);
  const port = await freePort();
  const admin = await freePort();
  const prof = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const proc = spawn(process.execPath, [...prof, BIN, 'gateway', '-c', cdir, '--workers', '0', '--port', String(port), '--admin-port', String(admin), '--address', '127.0.0.1'], { stdio: 'ignore' });
  await waitPort(port);
  return { proc, port, admin };
}

interface Case { name: string; url: string; note?: string; headers?: string[]; pid?: number }

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Ratio a ÷ b from PAIRS back-to-back pairs of short runs (ABBA order, so a drift within a pair
 * moves both alike): the median pair and the range, of throughput and of capacity (b's CPU time
 * per request ÷ a's, read from /proc: what each server would serve with a core to itself).
 */
async function pairedRatio(a: Case, b: Case): Promise<{ rps: number[]; cpu: number[]; cpuA: number[]; cpuB: number[] }> {
  process.stderr.write(`gateway bench: ${a.name} ÷ ${b.name}, ${PAIRS} paired runs...\n`);
  await wrk(a.url, 2, a.headers);
  await wrk(b.url, 2, b.headers);
  const out = { rps: [] as number[], cpu: [] as number[], cpuA: [] as number[], cpuB: [] as number[] };
  for (let i = 0; i < PAIRS; i++) {
    const first = i % 2 === 0 ? a : b;
    const m1 = await measure(first, PAIR_SECONDS);
    const m2 = await measure(first === a ? b : a, PAIR_SECONDS);
    const [ma, mb] = first === a ? [m1, m2] : [m2, m1];
    out.rps.push(ma.rps / mb.rps);
    out.cpu.push(mb.cpuUs / ma.cpuUs);
    out.cpuA.push(ma.cpuUs);
    out.cpuB.push(mb.cpuUs);
  }
  return out;
}

/**
 * Runs every case; returns rows for the bench table. All servers run at once (idle unless
 * measured) and the cases are measured in ROUNDS interleaved rounds, the order rotating each
 * round: a machine whose speed drifts (a shared VM) then moves every case alike. Each case
 * reports its median round. The target ratios come from {@link pairedRatio}: in the rounds a
 * Node process that sat idle while the others ran is sometimes half as fast for seconds (a
 * slowness of this VM), which made per-round ratios range from 0.5 to 1.3.
 */
export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'gw-bench-'));
  const procs: ChildProcess[] = [];
  try {
    const upPort = await freePort();
    const up = node(UPSTREAM, [String(upPort)]);
    procs.push(up);
    await waitPort(upPort);
    const local = (port: number) => `http://127.0.0.1:${port}/`;

    const plain = await startGateway(dir, 'plain', gatewayYaml(upPort, ''));
    const noop = await startGateway(dir, 'noop', gatewayYaml(upPort, `  - { name: noop, url: ${await watPlugin(dir, 'noop')} }\n`));
    const chain = await startGateway(dir, 'chain', gatewayYaml(upPort, CHAIN_PLUGINS));
    procs.push(plain.proc, noop.proc, chain.proc);

    const nginxPort = await freePort();
    const ndir = join(dir, 'nginx');
    execFileSync('mkdir', ['-p', join(ndir, 'logs')]);
    await writeFile(join(ndir, 'nginx.conf'), `worker_processes 1;
error_log ${join(ndir, 'logs', 'error.log')} error;
pid ${join(ndir, 'nginx.pid')};
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${ndir}/body; proxy_temp_path ${ndir}/proxy; fastcgi_temp_path ${ndir}/fcgi; uwsgi_temp_path ${ndir}/uwsgi; scgi_temp_path ${ndir}/scgi;
  upstream up { server 127.0.0.1:${upPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`);
    const nginx = spawn('nginx', ['-p', ndir, '-c', join(ndir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
    procs.push(nginx);
    const hpPort = await freePort();
    const hp = node(HTTP_PROXY, [String(hpPort), String(upPort)]);
    procs.push(hp);
    const bpPort = await freePort();
    const bp = node(UNDICI_PROXY, [String(bpPort), String(upPort)]);
    procs.push(bp);
    await Promise.all([nginxPort, hpPort, bpPort].map((p) => waitPort(p)));

    const cases: Case[] = [
      { name: 'direct to upstream', url: local(upPort), pid: up.pid },
      { name: 'gateway, no plugin', url: local(plain.port), note: 'one process (--workers 0), access log off', pid: plain.proc.pid },
      { name: 'gateway, one no-op plugin', url: local(noop.port), pid: noop.proc.pid },
      { name: 'gateway, 3 example plugins', url: local(chain.port), note: 'key-auth, request-block, hello-world', headers: ['x-api-key: bench-key'], pid: chain.proc.pid },
      { name: 'nginx (Debian)', url: local(nginxPort), note: 'worker_processes 1, upstream keepalive', pid: nginx.pid },
      { name: 'http-proxy (keep-alive agent)', url: local(hpPort), pid: hp.pid },
      { name: 'bare undici proxy', url: local(bpPort), pid: bp.pid },
    ];
    const results = new Map<string, Array<WrkResult & { cpuUs: number }>>(cases.map((c) => [c.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(i + round) % cases.length];
        process.stderr.write(`gateway bench: round ${round + 1}/${ROUNDS}, ${c.name}...\n`);
        await wrk(c.url, 2, c.headers); // warm-up: JIT, pools, and a process that sat idle while the others ran
        results.get(c.name)!.push(await measure(c, SECONDS));
      }
    }
    for (const c of cases) {
      const rs = results.get(c.name)!;
      const errors = rs.reduce((n, r) => n + r.errors, 0);
      const non2xx = rs.reduce((n, r) => n + r.non2xx, 0);
      const lost = errors + non2xx ? ` errors ${errors}, non-2xx ${non2xx}` : '';
      const cpu = median(rs.map((r) => r.cpuUs));
      const spread = `${Number.isNaN(cpu) ? '' : `${cpu.toFixed(0)} µs CPU per request; `}rounds ${rs.map((r) => Math.round(r.rps)).join(' / ')}`;
      rows.push({ name: `${c.name} req/s`, value: median(rs.map((r) => r.rps)), unit: 'req/s', note: `${c.note ? `${c.note}; ` : ''}${spread}${lost}` });
      rows.push({ name: `${c.name} p99`, value: median(rs.map((r) => r.p99ms)), unit: 'ms' });
    }
    const byName = new Map(cases.map((c) => [c.name, c]));
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    const ratio = async (a: string, b: string, target: number): Promise<void> => {
      const r = await pairedRatio(byName.get(a)!, byName.get(b)!);
      const name = `${a.replace('gateway, ', '')} / ${b.replace('gateway, ', '')}`;
      rows.push({ name, value: median(r.rps), unit: 'x', note: `target ≥ ${target.toFixed(2)}; req/s in ${PAIRS} paired runs, range ${range(r.rps)}` });
      if (r.cpu.some(Number.isNaN)) return;
      const us = `${median(r.cpuA).toFixed(0)} vs ${median(r.cpuB).toFixed(0)} µs CPU per request`;
      rows.push({ name: `${name}, by CPU`, value: median(r.cpu), unit: 'x', note: `${us}; range ${range(r.cpu)}` });
    };
    await ratio('gateway, no plugin', 'bare undici proxy', 0.9);
    await ratio('gateway, no plugin', 'nginx (Debian)', 0.55);
    await ratio('gateway, no plugin', 'http-proxy (keep-alive agent)', 1.5);
    await ratio('gateway, 3 example plugins', 'gateway, no plugin', 0.85);
    await Promise.all(procs.splice(1).map(stop));

    rows.push(...await reloadUnderLoad(dir, upPort));
  } finally {
    await Promise.all(procs.map(stop));
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * Hot reload under load (issue 4): `RELOADS` plugin swaps and `RELOADS` route changes (default
 * 100 each) written to the watched config, evenly spread over a wrk run of `RELOAD_SECONDS`
 * (default 30). After each write a keep-alive probe polls until both the plugin's header and
 * the route's rewrite show the new version; that time is the write → new-behaviour latency.
 */
export async function reloadUnderLoad(dir: string, upPort: number): Promise<BenchRow[]> {
  const hello = (v: string) => `  - { name: hello-world, url: ${example('hello-world')}, config: { header: x-version, value: "${v}" } }\n`;
  const route = (i: number) => `  - { name: bench/probe, path: /probe, service: up.svc, rewrite: { path: "/route-${i}" } }\n`;
  process.stderr.write('gateway bench: reload under load...\n');
  const gw = await startGateway(dir, 'reload', gatewayYaml(upPort, hello('v0'), route(0)), process.env.GATEWAY_BENCH_CPU_PROF);
  const file = join(dir, 'reload', 'gw.yaml');
  // One keep-alive connection for the probe; every socket it had to open beyond the first is
  // a connection the gateway closed or reset under it.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const probeSockets = new Set<unknown>();
  let probeErrors = 0;
  const probeRtts: number[] = [];
  const probe = () => new Promise<http.IncomingHttpHeaders | undefined>((resolve) => {
    const sent = performance.now();
    const req = http.get({ host: '127.0.0.1', port: gw.port, path: '/probe', agent }, (res) => {
      res.resume();
      res.on('end', () => { probeRtts.push(performance.now() - sent); resolve(res.statusCode === 200 ? res.headers : undefined); });
    });
    req.on('socket', (s) => probeSockets.add(s));
    req.on('error', () => { probeErrors++; resolve(undefined); });
  });
  let plugin = 0;
  let routeNo = 0;
  /** Writes the next change and polls until the probe sees both its plugin header and its route; returns the ms it took. */
  const change = async (swapPlugin: boolean): Promise<number> => {
    if (swapPlugin) plugin++; else routeNo++;
    const t0 = performance.now();
    // A synchronous write: the clock measures the gateway, not this process waiting for its thread pool.
    writeFileSync(file, gatewayYaml(upPort, hello(`v${plugin}`), route(routeNo)));
    for (;;) {
      const h = await probe();
      if (h && h['x-version'] === `v${plugin}` && h['x-upstream'] === `/route-${routeNo}`) return performance.now() - t0;
      if (performance.now() - t0 > 5000) throw new Error('a config change did not take effect within 5 s');
      await new Promise((r) => setImmediate(r));
    }
  };
  await probe();
  // Warm-up, not counted (as the throughput cases' 1 s wrk run before each measured run): a few
  // changes and 3 s of load, so the measured run sees a warm process, not its first seconds of JIT.
  for (let i = 0; i < 4; i++) await change(i % 2 === 0);
  const warmPlugin = plugin;
  const warmRoute = routeNo;
  await wrk(`http://127.0.0.1:${gw.port}/`, 3);
  const seconds = RELOAD_SECONDS;
  const changes = RELOADS * 2;
  // Writes are spread over the run, leaving a second at each end so every change happens under load.
  const slotMs = ((seconds - 2) * 1000) / changes;
  const load = wrk(`http://127.0.0.1:${gw.port}/`, seconds);
  await new Promise((r) => setTimeout(r, 1000));
  const latencies: number[] = [];
  probeRtts.length = 0;
  const started = performance.now();
  for (let i = 0; i < changes; i++) {
    const wait = started + i * slotMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const ms = await change(i % 2 === 0);
    latencies.push(ms);
    if (process.env.GATEWAY_BENCH_DEBUG) process.stderr.write(`change ${i}: ${ms.toFixed(1)} ms at ${(performance.timeOrigin + performance.now() - ms).toFixed(1)}\n`);
  }
  const applyMs = performance.now() - started;
  const r = await load;
  agent.destroy();
  await stop(gw.proc);
  const pctOf = (list: number[], p: number) => list[Math.min(list.length - 1, Math.floor(list.length * p))];
  latencies.sort((a, b) => a - b);
  probeRtts.sort((a, b) => a - b);
  const pct = (p: number) => pctOf(latencies, p);
  const resets = r.read + r.write + Math.max(0, probeSockets.size - 1) + probeErrors;
  return [
    { name: 'reload under load: changes applied', value: latencies.length, unit: 'changes', note: `${plugin - warmPlugin} plugin swaps + ${routeNo - warmRoute} route changes (after a warm-up of 4 changes and 3 s of load) in ${(applyMs / 1000).toFixed(1)} s of a ${seconds} s wrk run (${Math.round(r.rps)} req/s, 50 connections)` },
    { name: 'reload under load: lost requests', value: r.errors + r.non2xx, unit: 'requests', note: `wrk socket errors ${r.errors}, non-2xx ${r.non2xx}` },
    { name: 'reload under load: reset connections', value: resets, unit: 'connections', note: `wrk read/write errors ${r.read + r.write}, probe reconnects ${Math.max(0, probeSockets.size - 1)}, probe errors ${probeErrors}` },
    { name: 'config write → new behaviour p50', value: pct(0.5), unit: 'ms' },
    { name: 'config write → new behaviour p99', value: pct(0.99), unit: 'ms', note: 'aim < 100 ms' },
    { name: 'config write → new behaviour max', value: latencies[latencies.length - 1], unit: 'ms' },
    { name: 'probe round trip under load p50', value: pctOf(probeRtts, 0.5), unit: 'ms', note: `p99 ${pctOf(probeRtts, 0.99).toFixed(1)} ms; the latencies above include one or more of these` },
  ];
}

/** Runs `work` with a fresh temp dir (named by `prefix`) and the bench upstream on a free port; removes both after. */
export async function withUpstream<T>(prefix: string, work: (dir: string, upPort: number) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const upPort = await freePort();
  const up = node(UPSTREAM, [String(upPort)]);
  try {
    await waitPort(upPort);
    return await work(dir, upPort);
  } finally {
    await stop(up);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Only the reload-under-load case: its own upstream and gateway. */
export function runReload(): Promise<BenchRow[]> {
  return withUpstream('gw-bench-', reloadUnderLoad);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `gateway-bench.js reload` runs only the reload-under-load case.
  const rows = process.argv[2] === 'reload' ? await runReload() : await run();
  const { printTable } = await import('./run.js');
  printTable('gateway', rows);
}
