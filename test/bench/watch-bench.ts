/**
 * Save → new behaviour in `higress-plugin run --watch`: a hello-world project is served by the
 * dev server; the benchmark saves a change to the plugin source and polls the gateway until a
 * response shows it. The time includes the file watcher, the compile, loading and configuring the
 * new module, and the swap. Runs standalone: `node dist/test/bench/watch-bench.js`.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { scaffoldProject } from '../../cli/author/scaffold.js';
import { startDevServer, type ReloadEvent } from '../../cli/author/dev-server.js';
import type { BenchRow } from './run.js';

const ANCHOR = '  ctx.addResponseHeader("x-hello", config.message);';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(release: boolean, rounds: number): Promise<{ total: number[]; build: number[]; swap: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'hp-watch-bench-'));
  const project = join(dir, 'hello');
  scaffoldProject({ dir: project, name: 'hello', template: 'hello' });
  const src = join(project, 'assembly', 'index.ts');
  // Without the per-request log line: the poll loop would flood the terminal.
  const original = readFileSync(src, 'utf8').replace(/^\s*log\.info\(.*\n/m, '');
  writeFileSync(src, original);
  const server = await startDevServer({ target: project, port: 0, release, print: () => {} });
  const total: number[] = [];
  const build: number[] = [];
  const swap: number[] = [];
  try {
    for (let i = 1; i <= rounds; i++) {
      const reloaded = new Promise<ReloadEvent>((resolve) => server.once('reload', resolve));
      const marker = `round-${i}`;
      const saved = performance.now();
      writeFileSync(src, original.replace(ANCHOR, `${ANCHOR}\n  ctx.addResponseHeader("x-bench", "${marker}");`));
      for (;;) {
        const res = await request(`${server.url}/bench`);
        await res.body.dump();
        if (res.headers['x-bench'] === marker) break;
        if (performance.now() - saved > 60_000) throw new Error(`round ${i}: the change was not served within 60 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      total.push(performance.now() - saved);
      const ev = await reloaded;
      build.push(ev.buildMs);
      swap.push(ev.swapMs);
      await new Promise((r) => setTimeout(r, 100)); // let the watcher settle between rounds
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { total, build, swap };
}

/** Save → new behaviour for hello-world, debug builds (the `run` default) and release builds. */
export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [release, rounds] of [[false, 5], [true, 3]] as const) {
    const kind = release ? 'release' : 'debug';
    const m = await measure(release, rounds);
    rows.push(
      { name: `run --watch save→new behaviour (${kind})`, value: median(m.total), unit: 'ms', note: `median of ${rounds}, max ${Math.round(Math.max(...m.total))} ms; aim < 2000 ms` },
      { name: `  compile (${kind})`, value: median(m.build), unit: 'ms', note: 'asc in the compiler process' },
      { name: `  load + configure + swap (${kind})`, value: median(m.swap), unit: 'ms', note: 'gateway reload' },
    );
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { printTable } = await import('./run.js');
  printTable('watch', await run());
}
