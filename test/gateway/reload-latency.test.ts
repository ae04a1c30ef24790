/**
 * What a reload does (and does not) redo: an unchanged `file://` module is not read again, a
 * module with the same digest is not compiled again, an unchanged plugin keeps its instance; a
 * wasm rebuilt at the same path is picked up; a file caught half-saved is not applied. The
 * counts come from the reload result (also the answer of `POST /reload`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../../spec/index.js';
import type { ReloadResult } from '../../runtime/gateway/index.js';
import { configDir, echoServer, fetchText, gateway, QUIET } from './helpers.js';

const HELLO = join(PACKAGE_ROOT, 'examples/hello-world/build/plugin.wasm');
const CUSTOM = join(PACKAGE_ROOT, 'examples/custom-response/build/plugin.wasm');

type Echo = Awaited<ReturnType<typeof echoServer>>;
let a: Echo, b: Echo;
let wasmDir: string;

before(async () => {
  [a, b] = await Promise.all([echoServer('a'), echoServer('b')]);
  wasmDir = await mkdtemp(join(tmpdir(), 'gw-wasm-'));
});

after(async () => {
  await Promise.all([a, b].map((s) => s?.close()));
  await rm(wasmDir, { recursive: true, force: true });
});

/** Native config: one route to `service`, one plugin from `wasm` (hello-world reads header/value; custom-response reads status_code/body). */
function config(service: string, wasm: string, value: string): string {
  return `${QUIET}services:
  - { name: a.svc, endpoints: ["127.0.0.1:${a.port}"] }
  - { name: b.svc, endpoints: ["127.0.0.1:${b.port}"] }
routes:
  - { name: default/main, path: /, service: ${service} }
plugins:
  - name: p
    url: ${pathToFileURL(wasm).href}
    config: { header: x-version, value: ${value}, status_code: 418, body: rebuilt }
`;
}

/** A gateway on a fresh config dir whose plugin is a private copy of hello-world (so tests can rewrite it). */
async function setup(name: string, watch: boolean) {
  const wasm = join(wasmDir, `${name}.wasm`);
  await copyFile(HELLO, wasm);
  const dir = await configDir();
  await dir.write('gw.yaml', config('a.svc', wasm, 'v1'));
  const gw = await gateway([dir.dir], { watch });
  const results: ReloadResult[] = [];
  gw.controlPlane.onReload = (r) => results.push(r);
  return {
    gw, dir, wasm, results,
    /** Resolves with the first reload reported after `from` results that satisfies `pred`. */
    async reloadAfter(from: number, pred: (r: ReloadResult) => boolean = () => true): Promise<ReloadResult> {
      const end = Date.now() + 5000;
      for (;;) {
        const r = results.slice(from).find(pred);
        if (r) return r;
        if (Date.now() > end) throw new Error(`no matching reload; saw ${JSON.stringify(results.slice(from))}`);
        await new Promise((res) => setTimeout(res, 5));
      }
    },
    async close() { await gw.close(); await dir.remove(); },
  };
}

test('a change to only a plugin\'s config reconfigures it without re-reading its unchanged wasm file or compiling it again', async () => {
  const s = await setup('config-only', false);
  try {
    assert.equal((await fetchText(`${s.gw.url}/`)).headers['x-version'], 'v1');
    await s.dir.write('gw.yaml', config('a.svc', s.wasm, 'v2'));
    const r = await s.gw.reload();
    assert.equal(r.ok, true, r.error?.message);
    assert.deepEqual(r.plugins, { fetched: 0, unchanged: 1, applied: { pluginsCreated: 1, pluginsReused: 0, modulesCompiled: 0 } });
    assert.equal((await fetchText(`${s.gw.url}/`)).headers['x-version'], 'v2');
  } finally {
    await s.close();
  }
});

test('a route-only change keeps the running plugin instance', async () => {
  const s = await setup('route-only', false);
  try {
    await s.dir.write('gw.yaml', config('b.svc', s.wasm, 'v1'));
    const r = await s.gw.reload();
    assert.equal(r.ok, true, r.error?.message);
    assert.deepEqual(r.plugins.applied, { pluginsCreated: 0, pluginsReused: 1, modulesCompiled: 0 });
    const res = await fetchText(`${s.gw.url}/`);
    assert.equal(JSON.parse(res.text).name, 'b');
    assert.equal(res.headers['x-version'], 'v1');
  } finally {
    await s.close();
  }
});

test('a wasm file touched without a change is read again but keeps its compiled module and plugin instance', async () => {
  const s = await setup('touched', false);
  try {
    const later = new Date(Date.now() + 5000);
    await utimes(s.wasm, later, later);
    const r = await s.gw.reload();
    assert.equal(r.ok, true, r.error?.message);
    assert.deepEqual(r.plugins, { fetched: 1, unchanged: 0, applied: { pluginsCreated: 0, pluginsReused: 1, modulesCompiled: 0 } });
  } finally {
    await s.close();
  }
});

test('a wasm rebuilt at the same path is picked up by the watcher, compiled and served', async () => {
  const s = await setup('rebuilt', true);
  try {
    assert.equal((await fetchText(`${s.gw.url}/`)).status, 200);
    const from = s.results.length;
    await writeFile(s.wasm, await readFile(CUSTOM));
    const r = await s.reloadAfter(from, (x) => x.ok && x.plugins.fetched === 1);
    assert.equal(r.plugins.applied?.modulesCompiled, 1);
    const res = await fetchText(`${s.gw.url}/`);
    assert.equal(res.status, 418);
    assert.equal(res.text, 'rebuilt');
  } finally {
    await s.close();
  }
});

test('a broken rebuild is rejected whole and the old module keeps serving until a good one is written back', async () => {
  const s = await setup('broken', false);
  try {
    await writeFile(s.wasm, Buffer.from('\0asm not really a module'));
    const bad = await s.gw.reload();
    assert.equal(bad.ok, false);
    assert.equal(bad.error?.code, 'GW_PLUGIN_COMPILE');
    assert.equal((await fetchText(`${s.gw.url}/`)).headers['x-version'], 'v1');
    await copyFile(CUSTOM, s.wasm);
    const good = await s.gw.reload();
    assert.equal(good.ok, true, good.error?.message);
    assert.equal(good.plugins.fetched, 1);
    assert.equal((await fetchText(`${s.gw.url}/`)).status, 418);
  } finally {
    await s.close();
  }
});

test('a config file caught empty in the middle of a save is not applied; the finished file is', async () => {
  const s = await setup('mid-save', true);
  try {
    const from = s.results.length;
    const routesSeen: number[] = [];
    s.gw.controlPlane.onReload = (r) => { s.results.push(r); routesSeen.push(s.gw.controlPlane.model!.routes.length); };
    // A save in two steps with a pause: truncate, then write (as editors and `>` do).
    await writeFile(join(s.dir.dir, 'gw.yaml'), '');
    const emptySince = Date.now();
    do {
      assert.equal((await fetchText(`${s.gw.url}/`)).status, 200, 'the running config keeps serving while the file is empty');
      await new Promise((res) => setTimeout(res, 5));
    } while (Date.now() - emptySince < 40);
    await s.dir.write('gw.yaml', config('b.svc', s.wasm, 'v1'));
    await s.reloadAfter(from, (r) => r.ok && JSON.stringify(s.gw.controlPlane.model!.routes).includes('b.svc'));
    const res = await fetchText(`${s.gw.url}/`);
    assert.equal(JSON.parse(res.text).name, 'b');
    assert.ok(s.results.slice(from).every((r) => r.ok), `no reload failed: ${JSON.stringify(s.results.slice(from).map((r) => r.error?.message))}`);
    assert.ok(routesSeen.every((n) => n === 1), 'the empty file was never applied');
  } finally {
    await s.close();
  }
});

test('the reload time starts at the file change and POST /reload says where the time went', async () => {
  const s = await setup('timings', true);
  try {
    const from = s.results.length;
    await s.dir.write('gw.yaml', config('b.svc', s.wasm, 'v1'));
    const watched = await s.reloadAfter(from, (r) => r.ok);
    assert.ok(watched.timings.waitMs > 0, 'a watched change waits out the quiet period before reloading');
    const sum = watched.timings.waitMs + watched.timings.loadMs + watched.timings.fetchMs + watched.timings.applyMs;
    assert.ok(Math.abs(watched.durationMs - sum) < 1, `durationMs ${watched.durationMs} covers wait + load + fetch + apply (${sum})`);

    const post = await fetchText(`${s.gw.admin}/reload`, { method: 'POST' });
    assert.equal(post.status, 200);
    const body = JSON.parse(post.text) as ReloadResult;
    assert.equal(body.timings.waitMs, 0);
    for (const k of ['loadMs', 'fetchMs', 'applyMs'] as const) assert.equal(typeof body.timings[k], 'number');
    assert.deepEqual(body.plugins, { fetched: 0, unchanged: 1, applied: { pluginsCreated: 0, pluginsReused: 1, modulesCompiled: 0 } });
  } finally {
    await s.close();
  }
});
