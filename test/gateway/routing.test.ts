import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { configDir, echo, echoServer, fetchText, gateway, httpRoute, mcpBridge, mcpIngress, QUIET } from './helpers.js';

type Echo = Awaited<ReturnType<typeof echoServer>>;
let a: Echo, b: Echo, c: Echo, m: Echo;
/** What the mirror backend received; it answers 500 slowly, which the client must never see. */
const mirrored: Array<{ method?: string; url?: string; host?: string; bodyBytes: number }> = [];
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;

before(async () => {
  [a, b, c] = await Promise.all([echoServer('a'), echoServer('b'), echoServer('c')]);
  m = await echoServer('m', (req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => {
      mirrored.push({ method: req.method, url: req.url, host: req.headers.host, bodyBytes: n });
      setTimeout(() => { res.writeHead(500); res.end('mirror says no'); }, 50);
    });
  });
  dir = await configDir();
  await dir.write('mcp.yaml', mcpBridge([
    `{ type: static, name: svc-a, domain: "127.0.0.1:${a.port}" }`,
    `{ type: static, name: svc-b, domain: "127.0.0.1:${b.port}" }`,
    `{ type: dns, name: svc-c, domain: "localhost", port: ${c.port} }`,
    `{ type: static, name: svc-m, domain: "127.0.0.1:${m.port}" }`,
  ]));
  await dir.write('ingress.yaml', [
    mcpIngress('shop', 'shop.example.com', '/', 'Prefix', 'svc-a.static:80'),
    mcpIngress('shop-api', 'shop.example.com', '/api', 'Prefix', 'svc-b.static:80'),
    mcpIngress('shop-exact', 'shop.example.com', '/exact', 'Exact', 'svc-c.dns'),
    mcpIngress('wild', '"*.wild.com"', '/', 'Prefix', 'svc-b.static:80'),
    mcpIngress('canary-main', 'canary.com', '/', 'Prefix', 'svc-a.static:80'),
    mcpIngress('canary-hdr', 'canary.com', '/', 'Prefix', 'svc-b.static:80', { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-by-header': 'x-canary', 'nginx.ingress.kubernetes.io/canary-weight': '30' }),
    mcpIngress('value-main', 'value.com', '/', 'Prefix', 'svc-a.static:80'),
    mcpIngress('cookie-main', 'cookie.com', '/', 'Prefix', 'svc-a.static:80'),
    mcpIngress('cookie-canary', 'cookie.com', '/', 'Prefix', 'svc-b.static:80', { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-by-cookie': 'beta', 'nginx.ingress.kubernetes.io/canary-weight': '100' }),
    mcpIngress('vhost', 'vhost.com', '/', 'Prefix', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/upstream-vhost': 'internal.example' }),
    mcpIngress('allow-other', 'allow.com', '/', 'Prefix', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/whitelist-source-range': '10.0.0.0/8, 192.168.1.1, 2001:db8::/32' }),
    mcpIngress('allow-local', 'allow-local.com', '/', 'Prefix', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/whitelist-source-range': '10.0.0.0/8, 127.0.0.0/8' }),
    mcpIngress('tls-only', 'secure.com', '/', 'Prefix', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/ssl-redirect': 'true' }),
    mcpIngress('hi-main', 'hi.com', '/', 'Prefix', 'svc-a.static:80'),
    mcpIngress('hi-canary', 'hi.com', '/', 'Prefix', 'svc-b.static:80', { 'higress.io/canary': 'true', 'higress.io/canary-by-header': 'x-hi' }),
    mcpIngress('value-canary', 'value.com', '/', 'Prefix', 'svc-b.static:80', { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-by-header': 'x-user', 'nginx.ingress.kubernetes.io/canary-by-header-value': 'beta' }),
    mcpIngress('rewrite', 'rw.com', '/app', 'Prefix', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/rewrite-target': '/' }),
    mcpIngress('rewrite-regex', 'rx.com', '/v1(/|$)(.*)', 'ImplementationSpecific', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/rewrite-target': '/api/$2', 'nginx.ingress.kubernetes.io/use-regex': 'true' }),
    mcpIngress('split', 'split.com', '/', 'Prefix', '75% svc-a.static:80\\n25% svc-b.static:80'),
    mcpIngress('app-root', 'root.com', '/', 'Prefix', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/app-root': '/app/' }),
    mcpIngress('moved', 'moved.com', '/', 'Prefix', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/permanent-redirect': 'https://new.example.com/home' }),
    mcpIngress('moved-308', 'moved.com', '/keep', 'Prefix', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/permanent-redirect': 'https://new.example.com/keep', 'nginx.ingress.kubernetes.io/permanent-redirect-code': '308' }),
    mcpIngress('hdr', 'hdr.com', '/', 'Prefix', 'svc-a.static:80', {
      'higress.io/request-header-control-add': 'x-added one\\n\\"x-quoted\\" \'two words\'',
      'higress.io/request-header-control-update': 'user-agent gateway',
      'higress.io/request-header-control-remove': 'x-drop, x-drop-too',
      'higress.io/response-header-control-add': 'x-resp yes',
      'higress.io/response-header-control-remove': 'x-upstream',
      // Higress reads these under higress.io/ only: under the nginx prefix they do nothing.
      'nginx.ingress.kubernetes.io/request-header-control-add': 'x-nginx-prefix yes',
    }),
    mcpIngress('matched', 'match.com', '/', 'Prefix', 'svc-b.static:80', {
      'higress.io/match-method': 'GET PUT', 'higress.io/exact-match-header-x-team': 'blue', 'higress.io/prefix-match-query-ver': 'v2',
      'higress.io/regex-match-pseudo-header-path': '/x.*',
    }),
    mcpIngress('unmatched', 'match.com', '/', 'Prefix', 'svc-a.static:80'),
    mcpIngress('shadowed', 'shadowed.com', '/', 'Prefix', 'svc-a.static:80', { 'higress.io/mirror-target-fqdn': 'svc-m.static' }),
    mcpIngress('away', 'away.com', '/', 'Prefix', 'svc-a.static:80', { 'nginx.ingress.kubernetes.io/temporal-redirect': 'http://bar.com:8080', 'nginx.ingress.kubernetes.io/permanent-redirect': 'https://ignored.example.com' }),
  ].join(''));
  await dir.write('route.yaml', `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: api, namespace: prod }
spec:
  hostnames: [api.example.com]
  rules:
    - matches:
        - path: { type: PathPrefix, value: /v2 }
          headers: [{ name: x-version, value: beta }]
      backendRefs: [{ name: svc-c.dns, port: ${c.port} }]
    - matches:
        - path: { type: PathPrefix, value: /v2 }
          queryParams: [{ name: debug, value: "1" }]
      backendRefs: [{ name: svc-b.static, port: 80 }]
    - matches:
        - path: { type: PathPrefix, value: /v2 }
          method: DELETE
      backendRefs: [{ name: svc-b.static, port: 80 }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{ name: x-deleted-by, value: gateway }]
            remove: [x-secret]
    - matches:
        - path: { type: PathPrefix, value: /v2 }
      backendRefs: [{ name: svc-a.static, port: 80 }]
      filters:
        - type: URLRewrite
          urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /internal } }
    - matches:
        - path: { type: Exact, value: /weighted }
      backendRefs:
        - { name: svc-a.static, port: 80, weight: 1 }
        - { name: svc-b.static, port: 80, weight: 1 }
${httpRoute('redirects', 'redirect.example.com', `    - matches: [{ path: { type: PathPrefix, value: /secure } }]
      filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, statusCode: 301 } }]
    - matches: [{ path: { type: PathPrefix, value: /old } }]
      filters: [{ type: RequestRedirect, requestRedirect: { hostname: new.example.com, path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } } }]
    - matches: [{ path: { type: Exact, value: /login } }]
      filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, port: 8443, path: { type: ReplaceFullPath, replaceFullPath: /auth/login } } }]
    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs: [{ name: svc-a.static, port: 80 }]
`)}${httpRoute('mirrors', 'mirror.example.com', `    - matches: [{ path: { type: PathPrefix, value: /none } }]
      backendRefs: [{ name: svc-a.static, port: 80 }]
      filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: svc-m.static, port: 80 }, percent: 0 } }]
    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs: [{ name: svc-a.static, port: 80 }]
      filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: svc-m.static, port: 80 } } }]
`)}${httpRoute('cors', 'cors.example.com', `    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs: [{ name: svc-a.static, port: 80 }]
      filters:
        - type: CORS
          cors: { allowOrigins: ["https://app.example.com", "https://*.trusted.com"], allowMethods: [GET, POST], allowHeaders: [x-api-key], exposeHeaders: [x-upstream], maxAge: 600, allowCredentials: true }
`)}`);
  await dir.write('settings.yaml', QUIET);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await Promise.all([a, b, c, m].map((s) => s?.close()));
  await dir?.remove();
});

test('routes by host and path prefix, longest prefix first, element-wise', async () => {
  assert.equal((await echo(`${gw.url}/x`, { headers: { host: 'shop.example.com' } })).name, 'a');
  assert.equal((await echo(`${gw.url}/api/items`, { headers: { host: 'shop.example.com' } })).name, 'b');
  assert.equal((await echo(`${gw.url}/api`, { headers: { host: 'shop.example.com:8080' } })).name, 'b');
  assert.equal((await echo(`${gw.url}/apiary`, { headers: { host: 'shop.example.com' } })).name, 'a', '/api must not match /apiary');
});

test('exact paths match only themselves and reach a dns registry service', async () => {
  assert.equal((await echo(`${gw.url}/exact`, { headers: { host: 'shop.example.com' } })).name, 'c');
  assert.equal((await echo(`${gw.url}/exact/more`, { headers: { host: 'shop.example.com' } })).name, 'a');
});

test('HTTPRoute RequestRedirect answers with a Location built from the request, by the Gateway API rules', async () => {
  const h = { host: 'redirect.example.com:8080' };
  const port = new URL(gw.url).port;
  let r = await fetchText(`${gw.url}/secure/a?x=1`, { headers: h });
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://redirect.example.com/secure/a?x=1', 'a new scheme without a port: its default port, left out');
  r = await fetchText(`${gw.url}/old/page?y=2`, { headers: h });
  assert.equal(r.status, 302, 'statusCode defaults to 302');
  assert.equal(r.headers.location, `http://new.example.com:${port}/new/page?y=2`, 'same scheme: the listener port; the matched prefix replaced');
  r = await fetchText(`${gw.url}/login?next=%2F`, { headers: h });
  assert.equal(r.headers.location, 'https://redirect.example.com:8443/auth/login?next=%2F');
  assert.equal((await echo(`${gw.url}/other`, { headers: h })).name, 'a', 'the other rules still proxy');
});

test('HTTPRoute RequestMirror sends a copy (body included) to the mirror backend and drops its answer', async () => {
  const h = { host: 'mirror.example.com:8080' };
  const arrived = async (n: number) => {
    for (let i = 0; i < 100 && mirrored.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(mirrored.length, n);
  };
  assert.equal((await echo(`${gw.url}/none`, { headers: h })).name, 'a', 'percent 0: proxied, not mirrored');
  const r = await echo(`${gw.url}/x?y=1`, { headers: h });
  assert.equal(r.name, 'a');
  assert.equal(r.status, 200, 'the mirror answers 500; the client gets the main answer');
  await arrived(1);
  assert.deepEqual(mirrored[0], { method: 'GET', url: '/x?y=1', host: 'mirror.example.com-shadow:8080', bodyBytes: 0 });
  const body = 'x'.repeat(200_000);
  const p = await fetchText(`${gw.url}/upload`, { method: 'POST', headers: h, body });
  assert.equal(JSON.parse(p.text).bodyBytes, body.length);
  await arrived(2);
  assert.equal(mirrored[1].method, 'POST');
  assert.equal(mirrored[1].bodyBytes, body.length);
});

test('Ingress permanent-redirect and temporal-redirect send every path to that URL as Higress does', async () => {
  // The URL's path, when it has one, replaces the request's; the query is kept.
  let r = await fetchText(`${gw.url}/any/path?x=1`, { headers: { host: 'moved.com' } });
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://new.example.com/home?x=1');
  assert.equal(r.headers['x-gateway-detail'], undefined);
  r = await fetchText(`${gw.url}/keep/x`, { headers: { host: 'moved.com' } });
  assert.equal(r.status, 308, 'permanent-redirect-code');
  assert.equal(r.headers.location, 'https://new.example.com/keep');
  // A URL without a path keeps the request's (Higress's conformance case); temporal-redirect wins.
  r = await fetchText(`${gw.url}/foo?q=1`, { headers: { host: 'away.com' } });
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://bar.com:8080/foo?q=1');
});

test('Ingress higress.io match annotations: method, exact header, prefix query and pseudo-header matches select the route', async () => {
  const h = (team: string) => ({ host: 'match.com', 'x-team': team });
  assert.equal((await echo(`${gw.url}/x?ver=v2.1`, { headers: h('blue') })).name, 'b');
  assert.equal((await echo(`${gw.url}/x?ver=v2.1`, { method: 'PUT', headers: h('blue') })).name, 'b');
  assert.equal((await echo(`${gw.url}/x?ver=v2.1`, { method: 'POST', headers: h('blue') })).name, 'a', 'POST is not in match-method');
  assert.equal((await echo(`${gw.url}/x?ver=v2.1`, { headers: h('red') })).name, 'a', 'x-team must be exactly blue');
  assert.equal((await echo(`${gw.url}/x?ver=v1`, { headers: h('blue') })).name, 'a', 'ver must start with v2');
  assert.equal((await echo(`${gw.url}/y?ver=v2.1`, { headers: h('blue') })).name, 'a', ':path must match /x.*');
});

test('Ingress header control: higress.io request/response-header-control-add, -update, -remove', async () => {
  const e = await echo(`${gw.url}/h`, { headers: { host: 'hdr.com', 'user-agent': 'client', 'x-drop': '1', 'x-drop-too': '2', 'x-keep': '3' } });
  assert.equal(e.status, 200);
  assert.equal(e.headers['x-added'], 'one');
  assert.equal(e.headers['x-quoted'], 'two words');
  assert.equal(e.headers['user-agent'], 'gateway');
  assert.equal(e.headers['x-drop'], undefined);
  assert.equal(e.headers['x-drop-too'], undefined);
  assert.equal(e.headers['x-keep'], '3');
  assert.equal(e.headers['x-nginx-prefix'], undefined);
  assert.equal(e.respHeaders['x-resp'], 'yes');
  assert.equal(e.respHeaders['x-upstream'], undefined);
});

test('Ingress mirror-target-fqdn: a copy of each request goes to the mirror', async () => {
  assert.equal((await echo(`${gw.url}/copied?q=1`, { headers: { host: 'shadowed.com' } })).name, 'a');
  const copy = () => mirrored.find((m) => m.host === 'shadowed.com-shadow');
  for (let i = 0; i < 100 && !copy(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(copy()?.url, '/copied?q=1');
});

test('HTTPRoute CORS filter: an allowed preflight is answered by the gateway; answers to allowed origins carry the headers', async () => {
  const host = 'cors.example.com';
  let r = await fetchText(`${gw.url}/items`, { method: 'OPTIONS', headers: { host, origin: 'https://x.trusted.com', 'access-control-request-method': 'POST' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'https://x.trusted.com');
  assert.equal(r.headers['access-control-allow-methods'], 'GET, POST');
  assert.equal(r.headers['access-control-allow-headers'], 'x-api-key');
  assert.equal(r.headers['access-control-max-age'], '600');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  const e = await echo(`${gw.url}/items`, { headers: { host, origin: 'https://app.example.com' } });
  assert.equal(e.name, 'a');
  assert.equal(e.respHeaders['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(e.respHeaders['access-control-expose-headers'], 'x-upstream');
  // Another origin: no CORS headers, and its preflight goes to the upstream like any request.
  r = await fetchText(`${gw.url}/items`, { method: 'OPTIONS', headers: { host, origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  assert.equal(JSON.parse(r.text).method, 'OPTIONS');
});

test('wildcard hosts match subdomains; unknown hosts get 404', async () => {
  assert.equal((await echo(`${gw.url}/`, { headers: { host: 'x.wild.com' } })).name, 'b');
  const r = await fetchText(`${gw.url}/`, { headers: { host: 'nothing.com' } });
  assert.equal(r.status, 404);
  assert.equal(r.headers['x-gateway-detail'], 'route_not_found');
});

test('HTTPRoute matches on headers, query parameters and method', async () => {
  const h = { host: 'api.example.com' };
  assert.equal((await echo(`${gw.url}/v2/x`, { headers: { ...h, 'x-version': 'beta' } })).name, 'c');
  assert.equal((await echo(`${gw.url}/v2/x?debug=1`, { headers: h })).name, 'b');
  const del = await echo(`${gw.url}/v2/x`, { method: 'DELETE', headers: { ...h, 'x-secret': 's' } });
  assert.equal(del.name, 'b');
  assert.equal(del.headers['x-deleted-by'], 'gateway');
  assert.equal(del.headers['x-secret'], undefined);
  const plain = await echo(`${gw.url}/v2/x?y=2`, { headers: h });
  assert.equal(plain.name, 'a');
  assert.equal(plain.url, '/internal/x?y=2', 'ReplacePrefixMatch rewrites the prefix and keeps the query');
});

test('canary by header: always, never, and weight for the rest', async () => {
  const h = { host: 'canary.com' };
  for (let i = 0; i < 5; i++) assert.equal((await echo(`${gw.url}/`, { headers: { ...h, 'x-canary': 'always' } })).name, 'b');
  for (let i = 0; i < 5; i++) assert.equal((await echo(`${gw.url}/`, { headers: { ...h, 'x-canary': 'never' } })).name, 'a');
  let canary = 0;
  const n = 200;
  for (let i = 0; i < n; i++) if ((await echo(`${gw.url}/`, { headers: h })).name === 'b') canary++;
  assert.ok(canary > n * 0.15 && canary < n * 0.45, `30% canary weight, got ${canary}/${n}`);
});

test('canary by cookie: always and never decide before the weight', async () => {
  const h = { host: 'cookie.com' };
  assert.equal((await echo(`${gw.url}/`, { headers: { ...h, cookie: 'session=1; beta=never' } })).name, 'a', 'never beats a 100% weight');
  assert.equal((await echo(`${gw.url}/`, { headers: { ...h, cookie: 'beta=always' } })).name, 'b');
  assert.equal((await echo(`${gw.url}/`, { headers: { ...h, cookie: 'beta=maybe' } })).name, 'b', 'another value: the weight decides');
});

test('Ingress upstream-vhost, whitelist-source-range and ssl-redirect', async () => {
  assert.equal((await echo(`${gw.url}/x`, { headers: { host: 'vhost.com' } })).headers.host, 'internal.example');
  const denied = await fetchText(`${gw.url}/x`, { headers: { host: 'allow.com' } });
  assert.equal(denied.status, 403, '127.0.0.1 is outside the ranges');
  assert.equal(denied.headers['x-gateway-detail'], 'source_not_allowed');
  assert.equal((await echo(`${gw.url}/x`, { headers: { host: 'allow-local.com' } })).name, 'a');
  const r = await fetchText(`${gw.url}/a/b?c=1`, { headers: { host: 'secure.com:8080' } });
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, 'https://secure.com/a/b?c=1');
});

test('annotations with the higress.io/ prefix mean the same as nginx.ingress.kubernetes.io/ ones', async () => {
  const h = { host: 'hi.com' };
  assert.equal((await echo(`${gw.url}/`, { headers: { ...h, 'x-hi': 'always' } })).name, 'b');
  assert.equal((await echo(`${gw.url}/`, { headers: h })).name, 'a');
});

test('canary by header value sends only that value to the canary', async () => {
  assert.equal((await echo(`${gw.url}/`, { headers: { host: 'value.com', 'x-user': 'beta' } })).name, 'b');
  assert.equal((await echo(`${gw.url}/`, { headers: { host: 'value.com', 'x-user': 'other' } })).name, 'a');
  assert.equal((await echo(`${gw.url}/`, { headers: { host: 'value.com' } })).name, 'a');
});

test('weighted destinations and backendRefs split traffic', async () => {
  let b75 = 0;
  for (let i = 0; i < 200; i++) if ((await echo(`${gw.url}/`, { headers: { host: 'split.com' } })).name === 'b') b75++;
  assert.ok(b75 > 25 && b75 < 80, `25% to b, got ${b75}/200`);
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) seen.add((await echo(`${gw.url}/weighted`, { headers: { host: 'api.example.com' } })).name!);
  assert.deepEqual([...seen].sort(), ['a', 'b']);
});

test('rewrite-target replaces a prefix, or applies regex groups', async () => {
  assert.equal((await echo(`${gw.url}/app/page?q=1`, { headers: { host: 'rw.com' } })).url, '/page?q=1');
  assert.equal((await echo(`${gw.url}/app`, { headers: { host: 'rw.com' } })).url, '/');
  assert.equal((await echo(`${gw.url}/v1/users/7`, { headers: { host: 'rx.com' } })).url, '/api/users/7');
});

test('app-root redirects a request for / with a Location header; other paths are proxied', async () => {
  const r = await fetchText(`${gw.url}/`, { headers: { host: 'root.com' } });
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, `http://root.com:${new URL(gw.url).port}/app/`);
  assert.equal((await echo(`${gw.url}/app/x`, { headers: { host: 'root.com' } })).url, '/app/x');
});

test('proxy headers: x-forwarded-*, x-request-id kept or generated, hop-by-hop stripped', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const req = http.request(`${gw.url}/x`, { headers: { host: 'shop.example.com', 'x-forwarded-for': '10.0.0.1', 'x-request-id': 'abc', connection: 'keep-alive, x-drop', 'x-drop': '1', 'proxy-authorization': 'secret' } }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve(JSON.stringify({ ...JSON.parse(t), respHeaders: res.headers })));
    });
    req.on('error', reject);
    req.end();
  });
  const r = JSON.parse(raw) as { headers: Record<string, string>; respHeaders: Record<string, string> };
  assert.equal(r.headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
  assert.equal(r.headers['x-forwarded-proto'], 'http');
  assert.equal(r.headers['x-forwarded-host'], 'shop.example.com');
  assert.equal(r.headers['x-request-id'], 'abc');
  assert.equal(r.headers['x-drop'], undefined);
  assert.equal(r.headers['proxy-authorization'], undefined);
  assert.equal(r.headers.host, 'shop.example.com');
  assert.notEqual(r.respHeaders['keep-alive'], 'timeout=5', 'the upstream keep-alive header is not forwarded');
  // Generated ids are random (version 4) UUIDs, a new one per request.
  const uuid4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const ids = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const g = await echo(`${gw.url}/x`, { headers: { host: 'shop.example.com' } });
    assert.match(g.headers['x-request-id'], uuid4);
    ids.add(g.headers['x-request-id']);
  }
  assert.equal(ids.size, 300);
});

test('admin API reports routes with Higress names and cluster names', async () => {
  const dump = JSON.parse((await fetchText(`${gw.admin}/config_dump`)).text);
  const names = new Set(dump.routes.map((r: { name: string }) => r.name));
  assert.ok(names.has('default/shop') && names.has('prod/api'));
  const clusters = dump.clusters.map((c: { name: string }) => c.name);
  assert.ok(clusters.includes('outbound|80||svc-a.static'));
  assert.ok(clusters.includes(`outbound|${c.port}||svc-c.dns`));
  assert.equal((await fetchText(`${gw.admin}/ready`)).status, 200);
  const prom = (await fetchText(`${gw.admin}/stats/prometheus`)).text;
  assert.match(prom, /gateway_requests_total\{route="default\/shop",status="200"\} \d+/);
});
