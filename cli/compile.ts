/**
 * Compiles an AssemblyScript plugin project to a proxy-wasm module with asc, against the SDK
 * shipped with this package (so a plugin project builds offline without its own node_modules).
 */
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, relative } from 'node:path';
import { PACKAGE_ROOT } from '../spec/index.js';

export interface CompileOptions {
  /** Plugin project folder. */
  dir: string;
  /** Entry file relative to `dir`; default `assembly/index.ts`. */
  entry?: string;
  /** Output .wasm path; default `<dir>/build/plugin.wasm` (`plugin.debug.wasm` with `debug`). */
  outFile?: string;
  /** Debug build: no optimisation, names section, source map. Default: release (optimised, small). */
  debug?: boolean;
}

export interface CompileResult {
  outFile: string;
  /** Wall time of the compile, in ms. */
  ms: number;
}

/** A compile that failed; `message` holds asc's diagnostics (file:line:col and the error text). */
export class CompileError extends Error {
  readonly code = 'HP_COMPILE_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'CompileError';
  }
}

/**
 * Folders asc searches for packages, in addition to `node_modules` above the entry file:
 * this package's own node_modules, where `@higress-plugin/sdk` is linked (npm workspace).
 */
export const SDK_SEARCH_PATHS = [join(PACKAGE_ROOT, 'node_modules')];

/**
 * asc flags every plugin is built with. Release builds are optimised for size.
 *
 * Runtime: `minimal` (TLSF allocator + mark-and-sweep collector run at points the SDK picks)
 * rather than `incremental`: a proxy-wasm callback is short and returns to the host with no
 * managed values on the wasm stack, so the SDK collects at the end of `proxy_on_delete` (every
 * few streams) and after `proxy_on_configure`. That frees exactly what the incremental collector
 * would, without its shadow stack, which doubles the code size (hello-world: 30 KB → 15 KB).
 * `abort` goes to the SDK (log at CRITICAL, then trap) so a plugin imports only proxy-wasm
 * functions; `usesSdk` false (a plugin written against the raw ABI) makes it a plain trap.
 */
export function ascFlags(debug: boolean, usesSdk = true): string[] {
  const common = [
    '--runtime', 'minimal',
    // Without the SDK there is no abort function to point at: abort then traps without a message.
    '--use', usesSdk ? 'abort=~lib/@higress-plugin/sdk/assembly/abort/abort' : 'abort=',
    '--noColors',
  ];
  return debug
    ? [...common, '--debug', '--sourceMap', '--optimizeLevel', '0']
    : [...common, '--optimizeLevel', '3', '--shrinkLevel', '2', '--converge', '--noAssert'];
}

/** Compiles the plugin in `options.dir`; throws {@link CompileError} with asc's diagnostics. */
export async function compilePlugin(options: CompileOptions): Promise<CompileResult> {
  const dir = resolve(options.dir);
  const entry = options.entry ?? 'assembly/index.ts';
  if (!existsSync(join(dir, entry))) throw new CompileError(`no plugin source: ${join(dir, entry)} does not exist`);
  const debug = options.debug ?? false;
  const outFile = resolve(options.outFile ?? join(dir, 'build', debug ? 'plugin.debug.wasm' : 'plugin.wasm'));
  mkdirSync(dirname(outFile), { recursive: true });
  const { default: asc } = await import('assemblyscript/asc');
  const usesSdk = readFileSync(join(dir, entry), 'utf8').includes('@higress-plugin/sdk');
  const args = [entry, '--outFile', relative(dir, outFile), ...ascFlags(debug, usesSdk)];
  for (const p of SDK_SEARCH_PATHS) args.push('--path', p);
  const extra = projectAscFlags(dir);
  // The SDK runs the collector itself, at the end of each callback; with another runtime it
  // would collect in the middle of host calls.
  if (usesSdk && extra.some((f) => f === '--runtime' || f.startsWith('--runtime='))) {
    throw new CompileError(`${join(dir, 'package.json')}: higressPlugin.ascFlags sets --runtime, but plugins built with the SDK need asc's minimal runtime`);
  }
  args.push(...extra);
  let stderr = '';
  const started = performance.now();
  const cwd = process.cwd();
  process.chdir(dir);
  // When asc itself crashes (an internal assertion) it prints a report and calls process.exit(1),
  // which would take down a long-running caller (watch mode, the gateway). Turn that into an error.
  const exit = process.exit;
  process.exit = ((code?: number) => {
    throw new CompileError(`the AssemblyScript compiler crashed (exit ${code ?? 0}) on ${join(dir, entry)}; its report is on stderr. ` +
      'A known trigger: a global whose type is inferred from an expression that refers to a function using that global; declare its type.');
  }) as typeof process.exit;
  try {
    const result = await asc.main(args, {
      stdout: { write: () => true } as never,
      stderr: { write: (chunk: string | Uint8Array) => { stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(); return true; } } as never,
    });
    if (result.error) throw new CompileError(`asc failed for ${join(dir, entry)}:\n${stderr.trim() || result.error.message}`);
  } finally {
    process.exit = exit;
    process.chdir(cwd);
  }
  return { outFile, ms: performance.now() - started };
}

/** Extra asc flags a project may list in its package.json under `higressPlugin.ascFlags`. */
function projectAscFlags(dir: string): string[] {
  const pkg = join(dir, 'package.json');
  if (!existsSync(pkg)) return [];
  const flags = JSON.parse(readFileSync(pkg, 'utf8'))?.higressPlugin?.ascFlags;
  return Array.isArray(flags) ? flags.map(String) : [];
}
