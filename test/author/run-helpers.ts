/** Starts `higress-plugin run` as a user would (a child process) and talks to it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './cli-helpers.js';

export interface RunningCli {
  child: ChildProcess;
  /** Gateway base URL, from the `gateway` line it prints. */
  url: string;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** Waits until the output (after `from`, default 0) matches `re`; fails if the process exits first. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** Ctrl-C, and wait for it to exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns `higress-plugin run <args>` in `cwd` and resolves once it serves (or rejects with its output). */
export async function startRunCli(args: string[], cwd: string, timeoutMs = 90_000): Promise<RunningCli> {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const waitFor = async (re: RegExp, ms = timeoutMs, from = 0): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = out.slice(from).match(re);
      if (m) return m;
      if (child.exitCode !== null) throw new Error(`run exited (${child.exitCode}) before printing ${re}:\n${out}`);
      if (Date.now() > deadline) throw new Error(`run did not print ${re} within ${ms} ms:\n${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const running: RunningCli = {
    child,
    url: '',
    output: () => out,
    waitFor,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      return exited;
    },
  };
  try {
    running.url = (await waitFor(/gateway\s+(http:\/\/\S+)/))[1];
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}

/** Runs a CLI `run` until it exits (for runs expected to fail at start). */
export function runCliToExit(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGINT'), 60_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output: out }); });
  });
}
