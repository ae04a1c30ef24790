/**
 * Host micro-benchmark: the cost of one proxy_on_request_headers that reads all 10 request headers
 * by name and adds one (test/plugins/bench), next to a bare wasm call with the same signature, and
 * the cost of a whole one-plugin stream (context create, headers, finish) through FilterChain, and
 * of a whole stream through the gateway bench's three example plugins.
 * `node dist/test/bench/host-bench.js` prints a table; `run()` returns the rows.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { PluginModule, Plugin, FilterChain } from '../../runtime/host/index.js';
import type { HeaderList, StreamInfo } from '../../runtime/host/types.js';
import type { StreamPort } from '../../runtime/host/stream-port.js';
import { EXAMPLE_CHAIN } from './gateway-bench.js';

export interface BenchRow { name: string; value: number; unit: string; note?: string }

const HEADERS: HeaderList = [
  [':method', 'GET'], [':path', '/api/v1/items?page=2'], [':authority', 'shop.example.com'], [':scheme', 'https'],
  ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) bench'], ['accept', 'application/json'], ['accept-encoding', 'gzip, br'],
  ['x-request-id', '5f1c9a52-8d7e-4b7a-9a41-0c2b9d0e7f11'], ['x-forwarded-for', '10.0.0.1'], ['cookie', 'session=abc123; theme=dark'],
];

/** A minimal stream for driving one context directly (what the chain's slot does, minus the chain). */
class BenchPort implements StreamPort {
  readonly properties = new Map<string, Uint8Array>();
  headers: HeaderList = HEADERS.slice();
  constructor(readonly info: StreamInfo) {}
  map(t: number): HeaderList | undefined { return t === 0 ? this.headers : undefined; }
  mapWritable(t: number): boolean { return t === 0; }
  body(): Uint8Array | undefined { return undefined; }
  setBody(): boolean { return false; }
  continueStream(): number { return 0; }
  closeStream(): number { return 0; }
  sendLocalResponse(): number { return 0; }
}

function measure(iterations: number, fn: () => void): number {
  for (let i = 0; i < Math.min(20_000, iterations); i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}

/** Runs the benchmark; numbers are ns per operation (best of 3 rounds). */
export async function run(): Promise<BenchRow[]> {
  const bytes = new Uint8Array(readFileSync(join(PACKAGE_ROOT, 'test/plugins/bench/build/plugin.wasm')));
  const module = await PluginModule.compile(bytes, 'bench');
  const plugin = await Plugin.create(module, { name: 'bench', env: { log: () => {} } });
  const vm = plugin.vm;
  const port = new BenchPort({ startTimeNs: 0n });
  const ctx = vm.newContext(port);
  vm.call('proxy_on_context_create', vm.exports.contextCreate, ctx, vm.root.id);
  const onHeaders = vm.exports.requestHeaders!;
  const bare = vm.instance.exports.bare as (a: number, b: number, c: number) => number;
  const headers = port.headers;

  const best = (n: number, fn: () => void): number => Math.min(measure(n, fn), measure(n, fn), measure(n, fn));
  const bareNs = best(2_000_000, () => { bare(ctx.id, 10, 1); });
  const callbackNs = best(300_000, () => {
    vm.call('proxy_on_request_headers', onHeaders, ctx, 10, 1);
    headers.length = 10;
  });
  if (vm.failure) throw vm.failure;
  if (port.headers.length !== 10) throw new Error('bench plugin did not add its header');

  const streamNs = await (async () => {
    const n = 20_000;
    const info: StreamInfo = { startTimeNs: 0n };
    const once = async (): Promise<void> => {
      const chain = new FilterChain([plugin], info);
      await chain.requestHeaders(HEADERS, true);
      chain.finish();
    };
    for (let i = 0; i < 2000; i++) await once();
    let bestNs = Infinity;
    for (let round = 0; round < 3; round++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await once();
      bestNs = Math.min(bestNs, Number(process.hrtime.bigint() - start) / n);
    }
    return bestNs;
  })();
  await plugin.destroy();
  const chainNs = await exampleChainNs();
  return [
    { name: 'bare wasm call (3 i32 args)', value: Math.round(bareNs * 10) / 10, unit: 'ns/call' },
    { name: 'on_request_headers: read 10 headers + add 1', value: Math.round(callbackNs), unit: 'ns/call', note: 'target < 2000 ns' },
    { name: 'whole stream: context create + request headers + finish', value: Math.round(streamNs), unit: 'ns/stream', note: 'FilterChain, one plugin' },
    { name: 'whole stream through 3 example plugins', value: Math.round(chainNs), unit: 'ns/stream', note: 'key-auth, request-block, hello-world (the gateway bench chain): request and response headers, 1 KB body, finish' },
  ];
}

/** A whole stream through the gateway bench's three example plugins, as the gateway drives it. */
async function exampleChainNs(): Promise<number> {
  const plugins: Plugin[] = [];
  for (const { name, config } of EXAMPLE_CHAIN) {
    const bytes = new Uint8Array(readFileSync(join(PACKAGE_ROOT, 'examples', name, 'build', 'plugin.wasm')));
    plugins.push(await Plugin.create(await PluginModule.compile(bytes, name), { name, configuration: JSON.stringify(config), env: { log: () => {}, logLevel: 3 } }));
  }
  const request: HeaderList = [...HEADERS, ['x-api-key', 'bench-key']];
  const response: HeaderList = [[':status', '200'], ['content-type', 'text/plain'], ['content-length', '1024']];
  const body = new Uint8Array(1024);
  const once = (): void => {
    const chain = new FilterChain(plugins, { startTimeNs: 0n, routeName: 'bench/main', clusterName: 'outbound|80||up.svc' });
    const r = chain.requestHeadersNow(request, true);
    if (r instanceof Promise || r.kind !== 'continue') throw new Error('the example chain did not let the request through');
    chain.responseHeadersNow(response, false);
    if (chain.wantsResponseBody) chain.responseDataNow(body, true);
    chain.finish();
  };
  const ns = Math.min(measure(50_000, once), measure(50_000, once), measure(50_000, once));
  for (const p of plugins) await p.destroy();
  return ns;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await run();
  const w = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) console.log(`${r.name.padEnd(w)}  ${String(r.value).padStart(9)} ${r.unit}${r.note ? `  (${r.note})` : ''}`);
}
