/**
 * Runs a plugin project's tests: compiles the plugin, then runs its `test/**\/*.test.{js,mjs}`
 * files with Node's test runner, with `higress-plugin/*` imports resolved to this package (so the
 * emulator needs no install) and `HIGRESS_PLUGIN_WASM` pointing at the fresh module.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePlugin } from '../compile.js';
import { AuthorError } from './errors.js';
import type { PluginProject } from './plugin-project.js';

/** Options of {@link runProjectTests}. */
export interface TestRunOptions {
  /** Where the runner's report goes; default process.stdout. */
  out?: NodeJS.WritableStream;
  /** Node test reporter; default `spec` (readable in a terminal and in CI logs). */
  reporter?: string;
  /** Only run tests whose name matches (node --test-name-pattern). Default: all. */
  namePattern?: string;
  /** Skip the compile and test the module already built. Default false. */
  noBuild?: boolean;
  /**
   * Test a release build (`build/plugin.wasm`: optimised, as `build` makes it). Default: a debug
   * build (`build/plugin.debug.wasm`), which compiles several times faster, keeps AssemblyScript's
   * assertions on and names functions in trap stack traces; the plugin behaves the same.
   */
  release?: boolean;
}

/** Outcome of a test run. */
export interface TestRunResult {
  files: string[];
  /** The module the tests ran against. */
  wasmFile: string;
  exitCode: number;
  /** Counts parsed from the reporter's summary when it prints one (spec and tap do). */
  pass?: number;
  fail?: number;
  compileMs?: number;
}

const REGISTER = join(fileURLToPath(new URL('.', import.meta.url)), 'self-resolve-register.js');

/** Test files of a project: `*.test.js|mjs|cjs` under `test/` (sorted, node_modules skipped). */
export function findTestFiles(dir: string): string[] {
  const root = join(dir, 'test');
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.test\.(c|m)?js$/.test(e.name)) out.push(p);
    }
  };
  if (existsSync(root)) walk(root);
  return out.sort();
}

/**
 * Builds the plugin and runs the project's tests. Resolves with the counts; a failing test run
 * resolves too (exitCode ≠ 0) so the caller decides how to report. Throws HP_NO_TESTS when the
 * project has no test files, and the compile error when the plugin does not build.
 */
export async function runProjectTests(project: PluginProject, options: TestRunOptions = {}): Promise<TestRunResult> {
  const out = options.out ?? process.stdout;
  const files = findTestFiles(project.dir);
  if (files.length === 0) {
    throw new AuthorError('HP_NO_TESTS', `no tests in ${join(project.dir, 'test')} (expected files named *.test.js or *.test.mjs)`);
  }
  let compileMs: number | undefined;
  const wasmFile = options.release ? project.wasmFile : project.wasmFile.replace(/\.wasm$/, '.debug.wasm');
  if (!options.noBuild) compileMs = (await compilePlugin({ dir: project.dir, outFile: wasmFile, debug: !options.release })).ms;
  const args = ['--import', REGISTER, '--test', `--test-reporter=${options.reporter ?? 'spec'}`];
  if (options.namePattern) args.push(`--test-name-pattern=${options.namePattern}`);
  args.push(...files.map((f) => relative(project.dir, f)));
  // A run started from inside another test run must still be a top-level run.
  const env: NodeJS.ProcessEnv = { ...process.env, HIGRESS_PLUGIN_WASM: wasmFile, NODE_OPTIONS: '' };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, args, {
    cwd: project.dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const relay = (chunk: Buffer): void => {
    const s = chunk.toString();
    text += s;
    out.write(s);
  };
  child.stdout.on('data', relay);
  child.stderr.on('data', relay);
  const exitCode = await new Promise<number>((resolveExit, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolveExit(code ?? 1));
  });
  const count = (label: string): number | undefined => {
    const m = new RegExp(`^\\S*\\s*${label} (\\d+)\\s*$`, 'm').exec(text.replace(/\x1b\[[0-9;]*m/g, ''));
    return m ? Number(m[1]) : undefined;
  };
  return { files, wasmFile, exitCode, pass: count('pass'), fail: count('fail'), compileMs };
}
