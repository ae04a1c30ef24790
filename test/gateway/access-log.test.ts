/**
 * The access log: one JSON line per request, with what plugins wrote to the `ai_log` property
 * (Higress's AI plugins write there; its access log prints it).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configDir, echoServer, fetchText, gateway, PROBE_PLUGIN } from './helpers.js';
import { eventually } from '../faults/harness.js';

let up: Awaited<ReturnType<typeof echoServer>>;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;
let logFile = '';

before(async () => {
  up = await echoServer('up');
  dir = await configDir();
  logFile = join(dir.dir, 'access.log');
  await dir.write('gw.yaml', `settings:\n  accessLog: "${logFile}"\nservices:
  - { name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }
routes:
  - { name: default/all, path: /, service: up.svc }
${PROBE_PLUGIN}`);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await up?.close();
  await dir?.remove();
});

async function line(path: string): Promise<Record<string, unknown>> {
  let found: string | undefined;
  await eventually(async () => {
    found = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').find((l) => l.includes(`"path":"${path}"`));
    return found !== undefined;
  }, 3000, `the access log line of ${path}`);
  return JSON.parse(found!);
}

test('an access log line names the route, cluster, upstream, status and request id', async () => {
  const r = await fetchText(`${gw.url}/plain`, { headers: { 'x-request-id': 'req-1' } });
  assert.equal(r.status, 200);
  const l = await line('/plain');
  assert.equal(l.route, 'default/all');
  assert.equal(l.cluster, 'outbound|80||up.svc');
  assert.equal(l.upstream, `127.0.0.1:${up.port}`);
  assert.equal(l.status, 200);
  assert.equal(l.requestId, 'req-1');
  assert.equal(l.ai_log, undefined);
});

test('what a plugin writes to the ai_log property appears as ai_log, as in Higress', async () => {
  const text = '{"model":"qwen-max","input_token":12,"output_token":34}';
  const r = await fetchText(`${gw.url}/chat`, { headers: { 'x-op': 'ai-log', 'x-arg': text } });
  assert.equal(r.status, 200);
  assert.equal((await line('/chat')).ai_log, text);
});
