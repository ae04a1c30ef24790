/**
 * Load balancing beyond round-robin: consistent hashing on a header or a query parameter,
 * cookie affinity (the gateway sets the cookie), and least-request, over two real upstreams.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { configDir, echo, echoServer, fetchText, gateway, mcpBridge, mcpIngress, QUIET } from './helpers.js';

type Server = Awaited<ReturnType<typeof echoServer>>;
let a: Server, b: Server;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;

/** An echo upstream that answers `/slow` after 600 ms. */
const slowEcho = (name: string) => echoServer(name, (req, res) => {
  req.resume();
  const answer = () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ name, url: req.url, headers: req.headers })); };
  if (req.url?.startsWith('/slow')) setTimeout(answer, 600);
  else answer();
});

before(async () => {
  [a, b] = await Promise.all([slowEcho('a'), slowEcho('b')]);
  dir = await configDir();
  const ingress = (name: string, dest: string, ann: Record<string, string>) => mcpIngress(name, `${name}.com`, '/', 'Prefix', dest, ann);
  // One static service per Ingress: the load balancer is a property of the service (as in Higress).
  const pair = `"127.0.0.1:${a.port},127.0.0.1:${b.port}"`;
  await dir.write('k8s.yaml', `${mcpBridge([`{ type: static, name: hashed, domain: ${pair} }`, `{ type: static, name: sticky, domain: ${pair} }`, `{ type: static, name: least, domain: ${pair} }`])}\
${ingress('hash', 'hashed.static:80', { 'nginx.ingress.kubernetes.io/upstream-hash-by': '$http_x-user' })}\
${ingress('cookie', 'sticky.static:80', { 'nginx.ingress.kubernetes.io/affinity': 'cookie', 'nginx.ingress.kubernetes.io/session-cookie-name': 'SESSION', 'nginx.ingress.kubernetes.io/session-cookie-max-age': '60' })}\
${ingress('least', 'least.static:80', { 'nginx.ingress.kubernetes.io/load-balance': 'least_conn' })}`);
  await dir.write('native.yaml', `${QUIET}services:
  - name: by-query
    endpoints: ["127.0.0.1:${a.port}", "127.0.0.1:${b.port}"]
    loadBalancer: { hash: { query: user } }
routes:
  - { name: default/by-query, hosts: [query.com], path: /, service: by-query }
`);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await Promise.all([a, b].map((s) => s?.close()));
  await dir?.remove();
});

test('upstream-hash-by $http_x-user: each user sticks to one endpoint; users spread over both', async () => {
  const where = new Map<string, Set<string>>();
  for (let u = 0; u < 16; u++) {
    for (let i = 0; i < 3; i++) {
      const r = await echo(`${gw.url}/x`, { headers: { host: 'hash.com', 'x-user': `user-${u}` } });
      where.set(`user-${u}`, (where.get(`user-${u}`) ?? new Set()).add(r.name!));
    }
  }
  for (const [user, names] of where) assert.equal(names.size, 1, `${user} went to ${[...names]}`);
  const used = new Set([...where.values()].flatMap((s) => [...s]));
  assert.deepEqual([...used].sort(), ['a', 'b']);
});

test('native loadBalancer hash on a query parameter', async () => {
  const first = (await echo(`${gw.url}/x?user=carol`, { headers: { host: 'query.com' } })).name;
  for (let i = 0; i < 4; i++) assert.equal((await echo(`${gw.url}/y?user=carol&i=${i}`, { headers: { host: 'query.com' } })).name, first);
});

test('affinity cookie: the first answer sets the cookie; requests carrying it stay on that endpoint', async () => {
  const r = await fetchText(`${gw.url}/x`, { headers: { host: 'cookie.com' } });
  const setCookie = String(r.headers['set-cookie']);
  assert.match(setCookie, /^SESSION=[0-9a-f]{8}; Path=\/; Max-Age=60; HttpOnly$/);
  const first = JSON.parse(r.text).name;
  const cookie = setCookie.split(';')[0];
  for (let i = 0; i < 6; i++) {
    const again = await fetchText(`${gw.url}/x`, { headers: { host: 'cookie.com', cookie: `other=1; ${cookie}` } });
    assert.equal(JSON.parse(again.text).name, first);
    assert.equal(again.headers['set-cookie'], undefined, 'no new cookie when the request has one');
  }
  // Without the cookie, round-robin goes on and each answer names its endpoint.
  const names = new Set<string>();
  for (let i = 0; i < 4; i++) names.add(JSON.parse((await fetchText(`${gw.url}/x`, { headers: { host: 'cookie.com' } })).text).name);
  assert.deepEqual([...names].sort(), ['a', 'b']);
});

test('load-balance least_conn: while one endpoint holds a slow request the others go to the idle one', async () => {
  const slow = echo(`${gw.url}/slow`, { headers: { host: 'least.com' } });
  await new Promise((r) => setTimeout(r, 100));
  const names: string[] = [];
  for (let i = 0; i < 4; i++) names.push((await echo(`${gw.url}/fast`, { headers: { host: 'least.com' } })).name!);
  const busy = (await slow).name!;
  assert.ok(names.every((n) => n !== busy), `fast requests went to ${names} while ${busy} was busy`);
});
