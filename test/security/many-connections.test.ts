// Connection exhaustion: 5,000 idle keep-alive connections held open against the gateway while
// load runs through a plugin chain. Zero errors, the idle connections stay usable, and every
// stream is released afterwards. (Needs about 11,000 file descriptors: checked against the
// process limit first, so a low `ulimit -n` fails with a clear message instead of EMFILE noise.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { Agent, request } from 'undici';
import { faultPlugin } from '../fault-plugins/fault-plugins.js';
import { activeStreams, eventually, gateway, tempDir, upstream, type TestGateway, type Upstream } from '../faults/harness.js';

const IDLE = 5000;
let up: Upstream;
let dir: Awaited<ReturnType<typeof tempDir>>;
let gw: TestGateway;
const idle: net.Socket[] = [];

before(async () => {
  up = await upstream();
  dir = await tempDir('conns-');
  const a = await faultPlugin(dir.dir, 'tag', { tag: 'a' }, 'a.wasm');
  const b = await faultPlugin(dir.dir, 'noop');
  await dir.write('gw.yaml', `settings: { accessLog: "off" }
services: [{ name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }]
routes:
  - { name: default/idle, path: /idle, direct: { status: 200, body: idle } }
  - { name: default/main, path: /, service: up.svc }
plugins:
  - { name: tag-a, url: "${a}", configDisable: true, rules: [{ routes: [default/main] }] }
  - { name: noop, url: "${b}", configDisable: true, rules: [{ routes: [default/main] }] }
`);
  gw = await gateway([`${dir.dir}/gw.yaml`]);
});

after(async () => {
  for (const s of idle) s.destroy();
  await gw?.close();
  await up?.close();
  await dir?.remove();
});

/** One keep-alive request on `sock`; resolves with the status once the whole response is read. */
function exchange(sock: net.Socket, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length - end - 4 < len) return;
      sock.off('data', onData);
      sock.off('error', reject);
      resolve(Number(head.slice(9, 12)));
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(`GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`);
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

test(`${IDLE} idle keep-alive connections plus load through a plugin chain: zero errors`, async () => {
  const limit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
  assert.ok(Number.isNaN(limit) || limit >= 2 * IDLE + 1000, `ulimit -n is ${limit}; this test needs ${2 * IDLE + 1000} descriptors (run \`ulimit -n 20000\`)`);
  const start = Date.now();
  for (let i = 0; i < IDLE; i += 250) {
    const batch = await Promise.all(Array.from({ length: Math.min(250, IDLE - i) }, () => connect(gw.port)));
    const statuses = await Promise.all(batch.map((s, k) => exchange(s, `/idle/${i + k}`)));
    assert.ok(statuses.every((s) => s === 200), `batch ${i}: ${statuses.filter((s) => s !== 200).length} errors`);
    idle.push(...batch);
  }
  const openMs = Date.now() - start;
  // Load while all of them sit idle.
  const agent = new Agent({ connections: 50 });
  let errors = 0;
  let ok = 0;
  const loadStart = Date.now();
  await Promise.all(Array.from({ length: 50 }, async () => {
    for (let k = 0; k < 20; k++) {
      try {
        const r = await request(`${gw.url}/load`, { dispatcher: agent });
        await r.body.text();
        if (r.statusCode === 200 && r.headers['x-tag'] === 'a') ok++; else errors++;
      } catch {
        errors++;
      }
    }
  }));
  const loadMs = Date.now() - loadStart;
  await agent.close();
  assert.equal(errors, 0);
  assert.equal(ok, 1000);
  // The idle connections are still open and usable.
  const sample = idle.filter((_, i) => i % 25 === 0);
  const again = await Promise.all(sample.map((s, i) => exchange(s, `/idle/again/${i}`)));
  assert.ok(again.every((s) => s === 200), `${again.filter((s) => s !== 200).length} idle connections broke`);
  console.log(`# ${IDLE} keep-alive connections opened in ${openMs} ms; 1000 requests under them in ${loadMs} ms (${Math.round(1000 / (loadMs / 1000))} req/s), 0 errors; ${sample.length} idle connections reused`);
  for (const s of idle) s.destroy();
  idle.length = 0;
  await eventually(async () => (await activeStreams(gw)) === 0, 5000, 'active streams back to zero');
});
