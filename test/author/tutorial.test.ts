/**
 * Runs docs/tutorial.md as written, in a temp folder: every ```sh block in a shell where
 * `higress-plugin` is this package's CLI, "terminal" blocks as background processes, the edits
 * as edits, and checks every expected output. Only ports change: 8080 becomes a free port and
 * `localhost:5000` the test registry (Debian's docker-registry on a free loopback port). While
 * the edit is picked up by the running gateway, clients keep sending requests; none may fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { CLI, tempDir } from './cli-helpers.js';
import { missingLines, parseTutorial, type TutorialStep } from './tutorial-script.js';
import { freePort } from '../fixtures/free-port.js';

const TUTORIAL = join(PACKAGE_ROOT, 'docs', 'tutorial.md');

interface Terminal { child: ChildProcess; output: string; seen: number }

/** Clients hammering the gateway while the plugin is swapped; every answer must be a 200. */
class SteadyTraffic {
  ok = 0;
  failures: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[];
  constructor(url: string, clients = 4) {
    this.loops = Array.from({ length: clients }, () => this.loop(url));
  }
  private async loop(url: string): Promise<void> {
    while (this.running) {
      try {
        const res = await request(url, { headers: { 'x-tutorial': 'steady' } });
        await res.body.text();
        if (res.statusCode === 200) this.ok++;
        else this.failures.push(`status ${res.statusCode}`);
      } catch (err) {
        this.failures.push(String((err as Error).message));
      }
    }
  }
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

test('the tutorial runs as written: init, build, test, run, live edit, push, run from the registry, manifest', { timeout: 240_000 }, async (t) => {
  const steps = parseTutorial(TUTORIAL);
  assert.ok(steps.some((s) => s.kind === 'edit'), 'the tutorial edits the plugin');
  const tmp = tempDir('hp-tutorial-');
  const bin = join(tmp.dir, '.bin');
  mkdirSync(bin);
  symlinkSync(CLI, join(bin, 'higress-plugin'));
  const registry: TestRegistry = await startRegistry();
  const gatewayPort = await freePort();
  const subst = (s: string): string => s.replaceAll('localhost:5000', registry.host).replaceAll('8080', String(gatewayPort));
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    HIGRESS_PLUGIN_CACHE_DIR: join(tmp.dir, '.cache'),
    NO_COLOR: '1',
  };
  const terminals = new Map<string, Terminal>();
  let cwd = join(tmp.dir, 'work');
  mkdirSync(cwd);
  let lastOutput = '';
  let traffic: SteadyTraffic | undefined;
  const stopTerminal = async (term: Terminal | undefined): Promise<void> => {
    if (!term || term.child.exitCode !== null) return;
    const exited = new Promise((r) => term.child.once('exit', r));
    term.child.kill('SIGINT');
    await exited;
  };
  t.after(async () => {
    await traffic?.stop();
    for (const term of terminals.values()) await stopTerminal(term);
    await registry.stop();
    tmp.cleanup();
  });

  const run = (command: string): Promise<{ code: number; output: string }> => new Promise((done, fail) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 1, output }));
  });

  const waitForTerminal = async (term: Terminal, lines: string[], at: number): Promise<void> => {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const fresh = term.output.slice(term.seen);
      if (missingLines(lines, fresh).length === 0) {
        term.seen = term.output.length;
        return;
      }
      if (term.child.exitCode !== null || Date.now() > deadline) {
        assert.fail(`tutorial line ${at}: terminal output lacks ${JSON.stringify(missingLines(lines, fresh))}; it printed:\n${fresh}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  for (const step of steps as TutorialStep[]) {
    switch (step.kind) {
      case 'commands':
        lastOutput = '';
        for (const line of step.lines) {
          const cd = /^cd\s+(\S+)$/.exec(line.trim());
          if (cd) {
            cwd = resolve(cwd, cd[1]);
            continue;
          }
          const r = await run(subst(line));
          assert.equal(r.code, 0, `tutorial line ${step.at}: \`${line}\` failed:\n${r.output}`);
          lastOutput += r.output;
        }
        break;
      case 'expect': {
        const missing = missingLines(step.lines.map(subst), lastOutput);
        assert.deepEqual(missing, [], `tutorial line ${step.at}: output lacks lines; it was:\n${lastOutput}`);
        if (traffic) {
          await new Promise((r) => setTimeout(r, 300)); // keep the clients going a little past the swap
          await traffic.stop();
          assert.deepEqual(traffic.failures, [], 'requests during the plugin swap all succeed');
          assert.ok(traffic.ok > 10, `steady clients got answers during the swap (${traffic.ok})`);
          traffic = undefined;
        }
        break;
      }
      case 'background': {
        await stopTerminal(terminals.get(step.terminal));
        const child = spawn('sh', ['-c', `exec ${subst(step.command)}`], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
        const term: Terminal = { child, output: '', seen: 0 };
        child.stdout.on('data', (c: Buffer) => { term.output += c.toString(); });
        child.stderr.on('data', (c: Buffer) => { term.output += c.toString(); });
        terminals.set(step.terminal, term);
        break;
      }
      case 'terminal-output': {
        const term = terminals.get(step.terminal);
        assert.ok(term, `tutorial line ${step.at}: no terminal ${step.terminal} was started`);
        await waitForTerminal(term, step.lines.map(subst), step.at);
        break;
      }
      case 'excerpt': {
        const text = readFileSync(join(cwd, step.file), 'utf8');
        assert.ok(text.includes(step.lines.join('\n')), `tutorial line ${step.at}: ${step.file} does not contain the excerpt shown`);
        break;
      }
      case 'edit': {
        traffic = new SteadyTraffic(`http://127.0.0.1:${gatewayPort}/steady`);
        await new Promise((r) => setTimeout(r, 200)); // traffic flowing before the save
        const file = join(cwd, step.file);
        const text = readFileSync(file, 'utf8');
        const before = step.remove.join('\n');
        assert.ok(text.includes(before), `tutorial line ${step.at}: ${step.file} does not contain:\n${before}`);
        writeFileSync(file, text.replace(before, step.add.join('\n')));
        break;
      }
    }
  }
  assert.equal(traffic, undefined, 'the edit was followed by a check of the new behaviour');
});

test('the tutorial checker notices output that differs from the page', () => {
  assert.deepEqual(missingLines(['x-hello-version: 2', 'built … in … ms'], 'x-hello-version: 1\nbuilt a in 5 ms\n'), ['x-hello-version: 2']);
  assert.deepEqual(missingLines(['sha256:…'], 'sha256:abc\n'), []);
});
