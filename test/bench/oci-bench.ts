/**
 * OCI benchmark: push and pull of the hello-world plugin image on a loopback registry
 * (Debian's docker-registry, started here). Runs standalone (`node dist/test/bench/oci-bench.js`)
 * or from `npm run bench`. Times are medians of several runs, in-process (no CLI start-up),
 * plus one CLI run each for the wall time a user sees.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { startRegistry } from '../fixtures/registry.js';
import { buildPlugin } from '../../cli/package/build-plugin.js';
import { pullPlugin } from '../../cli/package/pull-plugin.js';
import { pushImage } from '../../runtime/oci/image-copy.js';
import { ImageLayout } from '../../runtime/oci/image-layout.js';
import { Repository } from '../../runtime/oci/registry-client.js';
import { fetchPlugin } from '../../runtime/oci/plugin-fetcher.js';

interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function runCli(args: string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'higress-plugin.js'), ...args], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`higress-plugin ${args.join(' ')} exited ${code}`))));
  });
}

/** Runs the suite; rows in ms. */
export async function run(): Promise<BenchRow[]> {
  const project = join(PACKAGE_ROOT, 'examples', 'hello-world');
  const source = existsSync(join(project, 'assembly', 'index.ts')) ? project : join(PACKAGE_ROOT, 'test', 'oci', 'fixtures', 'mini');
  const work = mkdtempSync(join(tmpdir(), 'hp-oci-bench-'));
  const registry = await startRegistry({ proxy: false });
  try {
    const built = await buildPlugin({ dir: source, outDir: join(work, 'dist'), created: '2025-01-01T00:00:00Z' });
    const layout = new ImageLayout(built.layoutDir);
    const runs = 9;
    const pushCold: number[] = [];
    const pushWarm: number[] = [];
    const pull: number[] = [];
    const fetchCold: number[] = [];
    const fetchWarm: number[] = [];
    for (let i = 0; i < runs; i++) {
      // A new registry client per run, as each CLI invocation has: auth/connection set-up counts.
      const ref = `${registry.host}/bench/hello-${i}:v1`;
      pushCold.push(await time(() => pushImage(layout, built.manifest, new Repository(ref), 'v1')));
      pushWarm.push(await time(() => pushImage(layout, built.manifest, new Repository(ref), 'v1')));
      pull.push(await time(() => pullPlugin(new Repository(ref), join(work, `pull-${i}`))));
      const cacheDir = join(work, `cache-${i}`);
      fetchCold.push(await time(() => fetchPlugin(`oci://${ref}`, { cacheDir })));
      fetchWarm.push(await time(() => fetchPlugin(`oci://${ref}`, { cacheDir })));
    }
    const cliPush = await runCli(['push', built.layoutDir, `${registry.host}/bench/cli:v1`]);
    const cliPull = await runCli(['pull', `${registry.host}/bench/cli:v1`, '-o', join(work, 'cli-pull')]);
    const note = `${source === project ? 'hello-world' : 'mini'} image, ${built.layers.length} layers, ${built.wasm.size} B module, median of ${runs}`;
    return [
      { name: 'push (all blobs new)', value: median(pushCold), unit: 'ms', note: `${note}; target < 300 ms` },
      { name: 'push (blobs exist)', value: median(pushWarm), unit: 'ms', note },
      { name: 'pull (verify + extract + write)', value: median(pull), unit: 'ms', note: `${note}; target < 300 ms` },
      { name: 'fetchPlugin oci:// (empty cache)', value: median(fetchCold), unit: 'ms', note },
      { name: 'fetchPlugin oci:// (cached, IfNotPresent)', value: median(fetchWarm), unit: 'ms', note },
      { name: 'CLI push wall time', value: cliPush, unit: 'ms', note: 'includes node start-up and command loading' },
      { name: 'CLI pull wall time', value: cliPull, unit: 'ms', note: 'includes node start-up and command loading' },
    ];
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await run();
  for (const r of rows) console.log(`${r.name.padEnd(42)} ${r.value.toFixed(1).padStart(8)} ${r.unit}  ${r.note ?? ''}`);
}
