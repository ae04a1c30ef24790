import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { cli, tempDir } from './cli-helpers.js';
import { runCliToExit, startRunCli, type RunningCli } from './run-helpers.js';

const tmp = tempDir('hp-run-');
const project = join(tmp.dir, 'greeter');
const EXAMPLE_WASM = join(PACKAGE_ROOT, 'examples', 'hello-world', 'build', 'plugin.wasm');
let run: RunningCli | undefined;

before(async () => {
  const r = await cli(['init', project, '--yes'], tmp.dir);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await run?.stop();
  tmp.cleanup();
});

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

test('run serves a project through the plugin in front of the echo upstream, and prints what to try', { timeout: 120_000 }, async () => {
  writeFileSync(join(project, 'greeter.json'), '{"message": "hello from greeter"}');
  run = await startRunCli(['--port', '0', '--config', '@greeter.json'], project);
  const out = run.output();
  assert.match(out, /serving plugin greeter/);
  assert.match(out, /config\s+\{"message":"hello from greeter"\} \(greeter\.json\)/);
  assert.match(out, /upstream\s+http:\/\/127\.0\.0\.1:\d+ \(built-in echo/);
  assert.ok(out.includes(`curl -i ${run.url}/`), 'prints curl lines for its own address');
  const r = await get(`${run.url}/orders?id=7`, { 'x-demo': '1' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-hello'], 'hello from greeter', 'the plugin added a response header');
  const echoed = JSON.parse(r.text);
  assert.equal(echoed.method, 'GET');
  assert.equal(echoed.path, '/orders?id=7');
  assert.equal(echoed.headers['x-hello'], 'hello from greeter', 'the upstream saw the header the plugin added');
  assert.equal(echoed.headers['x-demo'], '1');
  await run.waitFor(/greeter.*GET \/orders\?id=7/, 5_000); // the plugin's log line, with its name
});

test('run --watch swaps in a saved change without failing a request, keeps the last good plugin on a build error, and follows the --config file', { timeout: 120_000 }, async () => {
  assert.ok(run, 'the previous test started run');
  const src = join(project, 'assembly', 'index.ts');
  const original = readFileSync(src, 'utf8');
  let stop = false;
  let ok = 0;
  let withNew = 0;
  const failures: string[] = [];
  const client = async () => {
    while (!stop) {
      try {
        const r = await get(`${run!.url}/steady`);
        if (r.status !== 200) failures.push(`status ${r.status}`);
        else {
          ok++;
          if (r.headers['x-hello-version'] === '2') withNew++;
        }
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const clients = [client(), client(), client()];
  await new Promise((r) => setTimeout(r, 200));
  const mark = run.output().length;
  writeFileSync(src, original.replace('  ctx.addResponseHeader("x-hello", config.message);',
    '  ctx.addResponseHeader("x-hello", config.message);\n  ctx.addResponseHeader("x-hello-version", "2");'));
  await run.waitFor(/serving version 2/, 90_000, mark);
  const after = await get(`${run.url}/after`);
  assert.equal(after.headers['x-hello-version'], '2');
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  await Promise.all(clients);
  assert.deepEqual(failures, [], 'no request failed during the swap');
  assert.ok(ok > withNew && withNew > 0, `requests were served before and after the swap (${ok - withNew} old, ${withNew} new)`);

  const mark2 = run.output().length;
  writeFileSync(src, `${readFileSync(src, 'utf8')}\nthis is not AssemblyScript(\n`);
  const failed = await run.waitFor(/build failed; still serving version 2:\n([\s\S]*?assembly\/index\.ts\(\d+,\d+\))/, 90_000, mark2);
  assert.match(failed[1], /ERROR/);
  const still = await get(`${run.url}/still`);
  assert.equal(still.status, 200);
  assert.equal(still.headers['x-hello-version'], '2', 'the last good plugin keeps serving');

  // A config the schema rejects is reported and changes nothing; a good one is served.
  const mark3 = run.output().length;
  writeFileSync(join(project, 'greeter.json'), '{"message": ""}');
  writeFileSync(src, original);
  await run.waitFor(/config check failed; still serving version 2:\n.*--config greeter\.json does not match the plugin's config schema:\n.*\$\.message: must NOT have fewer than 1 characters/, 90_000, mark3);
  assert.equal((await get(`${run.url}/x`)).headers['x-hello'], 'hello from greeter');
  const mark4 = run.output().length;
  writeFileSync(join(project, 'greeter.json'), '{"message": "bonjour"}');
  await run.waitFor(/serving version 3/, 90_000, mark4);
  const v3 = await get(`${run.url}/x`);
  assert.equal(v3.headers['x-hello'], 'bonjour');
  assert.equal(v3.headers['x-hello-version'], undefined, 'version 3 is built from the restored source');
  assert.equal(await run.stop(), 0, 'Ctrl-C ends run cleanly');
  run = undefined;
});

test('run a .wasm file with --config, --plugin-name and --upstream', { timeout: 60_000 }, async () => {
  assert.ok(existsSync(EXAMPLE_WASM), `${EXAMPLE_WASM} is built by npm run build`);
  const wasm = join(tmp.dir, 'hello.wasm');
  copyFileSync(EXAMPLE_WASM, wasm);
  const seen: IncomingHttpHeaders[] = [];
  const upstream = createServer((req, res) => {
    seen.push(req.headers);
    res.end('from my upstream');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upPort = (upstream.address() as AddressInfo).port;
  const wasmRun = await startRunCli([wasm, '--port', '0', '--upstream', `http://127.0.0.1:${upPort}`,
    '--config', '{"header":"x-team","value":"blue"}', '--plugin-name', 'team-tag'], tmp.dir);
  try {
    assert.match(wasmRun.output(), /serving plugin team-tag/);
    assert.doesNotMatch(wasmRun.output(), /Watching/, 'a .wasm file is not watched');
    const r = await get(`${wasmRun.url}/x`);
    assert.equal(r.text, 'from my upstream');
    assert.equal(r.headers['x-team'], 'blue');
    assert.equal(seen.at(-1)?.['x-team'], 'blue');
  } finally {
    await wasmRun.stop();
    upstream.close();
  }
});

test('run refuses a config that breaks the schema before it listens', { timeout: 60_000 }, async () => {
  const r = await runCliToExit(['--port', '0', '--config', '{"message": 42, "colour": "red"}'], project);
  assert.equal(r.code, 1);
  assert.match(r.output, /--config does not match the plugin's config schema/);
  assert.match(r.output, /\$\.message: must be string \[type\]/);
  assert.match(r.output, /\$: unknown property "colour" \[additionalProperties\]/);
  assert.doesNotMatch(r.output, /gateway\s+http/);
});

test('run reports a config the plugin itself rejects, with the plugin\'s reason', { timeout: 60_000 }, async () => {
  const wasm = join(tmp.dir, 'strict.wasm'); // no spec.yaml beside it: only the plugin judges the config
  copyFileSync(EXAMPLE_WASM, wasm);
  const r = await runCliToExit([wasm, '--port', '0', '--config', '{"header": 5}'], tmp.dir);
  assert.equal(r.code, 1);
  assert.match(r.output, /the gateway did not start/);
  assert.match(r.output, /header must be a string/);
  assert.match(r.output, /\[HP_GATEWAY_FAILED\]/);
});

test('run --service lets an http-call plugin ask a local service before the request goes on', { timeout: 120_000 }, async () => {
  const dir = join(tmp.dir, 'gatekeeper');
  const init = await cli(['init', dir, '--template', 'http-call', '--yes'], tmp.dir);
  assert.equal(init.code, 0, init.stderr);
  const asked: string[] = [];
  const auth = createServer((req, res) => {
    asked.push(`${req.url} ${req.headers['x-original-path']}`);
    if (req.headers.authorization === 'Bearer good') res.writeHead(200, { 'x-user-id': 'u-7' }).end();
    else res.writeHead(401).end();
  });
  await new Promise<void>((r) => auth.listen(0, '127.0.0.1', r));
  const authPort = (auth.address() as AddressInfo).port;
  const callRun = await startRunCli(['--port', '0', '--no-watch', '--service', `auth.static=http://127.0.0.1:${authPort}`], dir);
  try {
    assert.match(callRun.output(), /service\s+outbound\|80\|\|auth\.static → http:\/\/127\.0\.0\.1:\d+\//);
    const ok = await get(`${callRun.url}/orders`, { authorization: 'Bearer good' });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.text).headers['x-user-id'], 'u-7', 'the answer\'s header went upstream');
    const denied = await get(`${callRun.url}/orders`, { authorization: 'Bearer bad' });
    assert.equal(denied.status, 403);
    assert.deepEqual(asked, ['/check /orders', '/check /orders']);
  } finally {
    await callRun.stop();
    auth.close();
  }
});

test('run --help shows examples', async () => {
  const r = await cli(['run', '--help'], tmp.dir);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Examples:\n\s+\$ higress-plugin run\n/);
  assert.match(r.stdout, /oci:\/\//);
});
