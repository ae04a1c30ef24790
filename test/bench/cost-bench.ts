/**
 * Cost benchmark: instructions per request in the gateway process, counted by valgrind's
 * callgrind, for the gateway bench's cases (no plugin, one no-op plugin, three example plugins).
 * Unlike wall-clock throughput on a shared VM, which drifts by half between runs, an instruction
 * count repeats within a few per cent, so this is the number to compare before and after a change.
 *
 * Each case: the gateway (`--workers 0`) starts under callgrind with instrumentation off, serves
 * COST_BENCH_WARMUP requests (JIT tiers settle), then counts COST_BENCH_REQUESTS more (20
 * keep-alive connections), less the optimising compiles that still happen (see steadyCounts).
 * With COST_BENCH_CACHE=1 callgrind also simulates the caches and the
 * suite reports KCachegrind's cycle estimate (Ir + 10 × L1 misses + 100 × last-level misses),
 * which shows what extra wasm code and data cost in cache misses; it runs about twice as long.
 * `node dist/test/bench/cost-bench.js` runs it standalone.
 */
import { spawn, execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { freePort } from '../fixtures/free-port.js';
import { watPlugin } from '../gateway/wat-plugins.js';
import { BIN, CHAIN_PLUGINS, EXAMPLE_CHAIN, gatewayYaml, stop, waitPort, withUpstream, type BenchRow } from './gateway-bench.js';

const WARMUP = Number(process.env.COST_BENCH_WARMUP ?? 8000);
const REQUESTS = Number(process.env.COST_BENCH_REQUESTS ?? 6000);
const CACHE = process.env.COST_BENCH_CACHE === '1';
const CONNECTIONS = 20;
/**
 * Under valgrind the process runs on one thread at a time and its main thread never idles, so
 * V8's background compilers (JS and wasm tier-up) would finish at times that differ from run to
 * run, and the count with them. The same optimised code, compiled on the main thread (JS) or up
 * front (wasm), makes the count repeat.
 */
const NODE_FLAGS = ['--no-concurrent-recompilation', '--no-liftoff'];

interface Cost { ir: number; cycles?: number }

/** Sends `n` GETs over the pool's connections; every answer must be a 200. */
async function load(pool: Pool, n: number, headers: Record<string, string>): Promise<void> {
  let sent = 0;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (sent++ < n) {
      const r = await pool.request({ path: '/', method: 'GET', headers });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`cost bench: the gateway answered ${r.statusCode}`);
    }
  }));
}

/** Totals of the events callgrind counted (its `events:` and `totals:` lines). */
function totals(out: string): Map<string, number> {
  const events = /^events: (.*)$/m.exec(out)?.[1].trim().split(' ') ?? [];
  const values = /^totals: (.*)$/m.exec(out)?.[1].trim().split(' ').map(Number) ?? [];
  return new Map(events.map((e, i) => [e, values[i] ?? 0]));
}

/**
 * The events counted in a callgrind dump, less V8's optimising compiles. V8 optimises a function
 * (again after a deopt) once it is hot, and under valgrind that happens on the main thread at
 * points that differ from run to run: one compile is millions of instructions, so a few in the
 * counted window moved a case by 10%. What is left is the steady state: the requests themselves,
 * their garbage collection included. The compiles are `Compiler::CompileOptimized`, inclusive.
 */
async function steadyCounts(file: string): Promise<Map<string, number>> {
  const t = totals(await readFile(file, 'utf8'));
  const report = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', '--show-percs=no', '--auto=no', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const shown = /^Events shown:\s+(.*)$/m.exec(report)?.[1].trim().split(/\s+/) ?? [];
  const line = report.split('\n').find((l) => l.includes('v8::internal::Compiler::CompileOptimized('));
  const compiled = line?.trim().split(/\s+/).slice(0, shown.length).map((v) => Number(v.replace(/,/g, ''))) ?? [];
  shown.forEach((e, i) => t.set(e, (t.get(e) ?? 0) - (compiled[i] || 0)));
  return t;
}

/** Counts the instructions process `pid` (started with `--instr-atstart=no`) runs during `work`, then dumps them to `<out file>.1`. */
async function countDuring(pid: number | undefined, work: () => Promise<void>): Promise<void> {
  const control = (...args: string[]) => execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore' });
  control('-i', 'on');
  await work();
  control('-i', 'off');
  control('-d');
}

/** Runs one gateway config under callgrind; returns its cost per counted request. */
async function measure(dir: string, name: string, upPort: number, plugins: string, headers: Record<string, string>): Promise<Cost> {
  const cdir = join(dir, name);
  execFileSync('mkdir', ['-p', cdir]);
  await writeFile(join(cdir, 'gw.yaml'), gatewayYaml(upPort, plugins));
  const port = await freePort();
  const admin = await freePort();
  const outFile = join(cdir, 'callgrind.out');
  const gw = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${outFile}`, ...(CACHE ? ['--cache-sim=yes'] : []),
    process.execPath, ...NODE_FLAGS, BIN, 'gateway', '-c', cdir, '--workers', '0', '--port', String(port), '--admin-port', String(admin), '--address', '127.0.0.1'], { stdio: 'ignore' });
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS });
  try {
    await waitPort(port, 180_000);
    process.stderr.write(`cost bench: ${name}: ${WARMUP} warm-up requests, then ${REQUESTS} counted...\n`);
    await load(pool, WARMUP, headers);
    await countDuring(gw.pid, () => load(pool, REQUESTS, headers));
  } finally {
    await pool.close();
    await stop(gw);
  }
  // The dump on request is `<file>.1`; the one written at exit counted nothing more.
  const t = await steadyCounts(`${outFile}.1`);
  const per = (e: string) => (t.get(e) ?? 0) / REQUESTS;
  const ir = per('Ir');
  if (!CACHE) return { ir };
  const l1 = per('I1mr') + per('D1mr') + per('D1mw');
  const ll = per('ILmr') + per('DLmr') + per('DLmw');
  return { ir, cycles: ir + 10 * l1 + 100 * ll };
}

/**
 * The in-process cost of one stream through the gateway bench's three example plugins, as the
 * gateway drives it (FilterChain: create, request headers, response headers, finish): no sockets,
 * so the count repeats within about 1%. The child warms up, says `ready`, counts STREAMS
 * streams once told `go` (instrumentation on), and says `done`.
 */
const STREAMS = 10_000;
const CHAIN_SCRIPT = `import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
const { PluginModule, Plugin, FilterChain } = await import(process.argv[1]);
const plugins = [];
for (const { name, config } of ${JSON.stringify(EXAMPLE_CHAIN)}) {
  const bytes = new Uint8Array(readFileSync(process.argv[2] + '/' + name + '/build/plugin.wasm'));
  plugins.push(await Plugin.create(await PluginModule.compile(bytes, name), { name, configuration: JSON.stringify(config), env: { log: () => {}, logLevel: 3 } }));
}
const request = [[':method', 'GET'], [':path', '/'], [':authority', '127.0.0.1:8080'], [':scheme', 'http'], ['user-agent', 'cost-bench'], ['x-api-key', 'bench-key'], ['x-request-id', '5f1c9a52-8d7e-4b7a-9a41-0c2b9d0e7f11'], ['x-forwarded-for', '127.0.0.1']];
const response = [[':status', '200'], ['content-type', 'text/plain'], ['content-length', '1024'], ['x-upstream', '/'], ['date', 'Mon, 07 Dec 2026 18:00:00 GMT'], ['connection', 'keep-alive']];
const once = () => {
  const chain = new FilterChain(plugins, { startTimeNs: 0n, routeName: 'bench/main', clusterName: 'outbound|80||up.svc', requestId: 'x', protocol: 'HTTP/1.1', sourceAddress: '127.0.0.1', sourcePort: 5555, destinationAddress: '127.0.0.1', destinationPort: 8080, connectionId: 1, mtls: false, listenerDirection: 2 });
  if (chain.requestHeadersNow(request, true).kind !== 'continue') throw new Error('the chain did not let the request through');
  chain.responseHeadersNow(response, false);
  chain.finish();
};
for (let i = 0; i < 30000; i++) once();
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
console.log('ready');
await lines.next();
for (let i = 0; i < ${STREAMS}; i++) once();
console.log('done');
await lines.next();
process.exit(0);`;

async function chainStreamCost(dir: string): Promise<number> {
  const outFile = join(dir, 'chain.callgrind.out');
  const child = spawn('valgrind', ['-q', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${outFile}`, process.execPath, ...NODE_FLAGS,
    '--input-type=module', '-e', CHAIN_SCRIPT, pathToFileURL(join(PACKAGE_ROOT, 'dist/runtime/host/index.js')).href, join(PACKAGE_ROOT, 'examples')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const expect = async (word: string) => {
    const l = await lines.next();
    if (l.done || l.value !== word) throw new Error(`cost bench: the chain child said ${l.done ? 'nothing' : JSON.stringify(l.value)}, not ${word}`);
  };
  try {
    process.stderr.write(`cost bench: in-process chain: ${STREAMS} streams...\n`);
    await expect('ready');
    await countDuring(child.pid, () => {
      child.stdin!.write('go\n');
      return expect('done');
    });
    child.stdin!.end('end\n');
  } finally {
    await stop(child);
  }
  return ((await steadyCounts(`${outFile}.1`)).get('Ir') ?? 0) / STREAMS;
}

export function run(): Promise<BenchRow[]> {
  return withUpstream('cost-bench-', async (dir, upPort) => {
    // Every case gets the same request (the chain's key-auth needs the key).
    const headers = { 'x-api-key': 'bench-key', 'user-agent': 'cost-bench' };
    const cases: Array<[string, string]> = [
      ['gateway, no plugin', ''],
      ['gateway, one no-op plugin', `  - { name: noop, url: ${await watPlugin(dir, 'noop')} }\n`],
      ['gateway, 3 example plugins', CHAIN_PLUGINS],
    ];
    const costs = new Map<string, Cost>();
    for (const [name, plugins] of cases) costs.set(name, await measure(dir, name.replace(/\W+/g, '-'), upPort, plugins, headers));
    const rows: BenchRow[] = [{
      name: 'stream through the 3 example plugins, in-process: instructions', value: await chainStreamCost(dir), unit: 'Ir',
      note: `callgrind, ${STREAMS} streams after 30,000 of warm-up: FilterChain create, request and response headers, finish`,
    }];
    const note = `callgrind, gateway process only, ${REQUESTS} requests after ${WARMUP} of warm-up`;
    for (const [name, c] of costs) {
      rows.push({ name: `${name}: instructions per request`, value: c.ir, unit: 'Ir', note });
      if (c.cycles !== undefined) rows.push({ name: `${name}: estimated cycles per request`, value: c.cycles, unit: 'cycles', note: 'Ir + 10 × L1 misses + 100 × LL misses' });
    }
    const base = costs.get('gateway, no plugin')!;
    for (const name of ['gateway, one no-op plugin', 'gateway, 3 example plugins']) {
      const c = costs.get(name)!;
      const target = name.includes('3 example') ? 'target ≥ 0.85; ' : '';
      rows.push({ name: `${name.replace('gateway, ', '')} / no plugin, by instructions`, value: base.ir / c.ir, unit: 'x', note: `${target}throughput ratio if CPU-bound at equal cost per instruction` });
      if (c.cycles !== undefined) rows.push({ name: `${name.replace('gateway, ', '')} / no plugin, by estimated cycles`, value: base.cycles! / c.cycles, unit: 'x' });
    }
    return rows;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { printTable } = await import('./run.js');
  printTable('cost', await run());
}
