/**
 * `npm run bench [-- suite ...]`: runs the benchmark suites side by side in one run and prints
 * one table. Suites live beside this file as `<suite>-bench.ts`, each exporting
 * `run(): Promise<BenchRow[]>`. Benchmarks are not part of `npm test`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

/** Suites run by default, in this order; `soak` is long and only runs when named. */
const DEFAULT_SUITES = ['host', 'sdk', 'oci', 'watch', 'gateway', 'cost'];

/** Prints rows as an aligned table under a suite heading. */
export function printTable(suite: string, rows: BenchRow[]): void {
  const cells = rows.map((r) => [r.name, formatValue(r.value), r.unit, r.note ?? '']);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...cells.map((c) => c[i].length), ['benchmark', 'value', 'unit', 'note'][i].length));
  const line = (c: string[]) => `${c[0].padEnd(widths[0])}  ${c[1].padStart(widths[1])}  ${c[2].padEnd(widths[2])}  ${c[3]}`.trimEnd();
  console.log(`\n## ${suite}`);
  console.log(line(['benchmark', 'value', 'unit', 'note']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const c of cells) console.log(line(c));
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2);
}

async function main(argv: string[]): Promise<void> {
  const suites = argv.length ? argv : DEFAULT_SUITES;
  const here = dirname(fileURLToPath(import.meta.url));
  let failed = 0;
  for (const suite of suites) {
    const file = join(here, `${suite}-bench.js`);
    if (!existsSync(file)) {
      console.log(`\n## ${suite}\n(no benchmark suite named "${suite}" yet)`);
      continue;
    }
    try {
      const mod = (await import(pathToFileURL(file).href)) as { run(): Promise<BenchRow[]> };
      printTable(suite, await mod.run());
    } catch (err) {
      failed++;
      console.error(`\n## ${suite}\nfailed: ${(err as Error).stack ?? err}`);
    }
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main(process.argv.slice(2));
