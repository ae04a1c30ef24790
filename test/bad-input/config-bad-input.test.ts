// Configuration bad input: each broken change is written next to a working config and reloaded
// through the admin API while requests flow. Each is rejected as a whole (the route it also adds
// never appears) with an error naming the file, object and field, and the previous snapshot
// serves every request throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { faultPlugin } from '../fault-plugins/fault-plugins.js';
import { gateway, prometheus, sample, send, tempDir, upstream, type TestGateway, type Upstream } from '../faults/harness.js';

let up: Upstream;
let dir: Awaited<ReturnType<typeof tempDir>>;
let gw: TestGateway;
let refuse = '';
let trapConfigure = '';
let notWasm = '';

const NEW_ROUTE = 'routes:\n  - { name: default/new, path: /new, service: up.svc }\n';

before(async () => {
  up = await upstream();
  dir = await tempDir('bad-config-');
  refuse = await faultPlugin(dir.dir, 'refuse-configure');
  trapConfigure = await faultPlugin(dir.dir, 'trap-configure');
  notWasm = `file://${await dir.write('not-wasm.wasm', '#!/bin/sh\necho this is not a wasm module\n')}`;
  await dir.write('a-base.yaml', `settings: { accessLog: "off" }
services: [{ name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }]
routes: [{ name: default/main, path: /, pathType: Prefix, service: up.svc, hosts: [main.example] }]
`);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await up?.close();
  await dir?.remove();
});

/** Requests sent continuously while `fn` runs; resolves with their statuses. */
async function underLoad(fn: () => Promise<void>): Promise<number[]> {
  const statuses: number[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) statuses.push((await send(`${gw.url}/x`, { headers: { host: 'main.example' } })).status);
  })();
  try {
    await fn();
  } finally {
    stop = true;
    await loop;
  }
  return statuses;
}

interface Case { name: string; files: () => Record<string, string>; code: string; mentions: RegExp[] }

const K8S_NEW_ROUTE = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: new, namespace: default, annotations: { higress.io/destination: "up.svc" } }
spec:
  rules: [{ host: new.example, http: { paths: [{ path: /new, pathType: Prefix, backend: { resource: { apiGroup: networking.higress.io, kind: McpBridge, name: default } } }] } }]
`;

const CASES: Case[] = [
  {
    name: 'broken YAML', code: 'GW_CONFIG_YAML', mentions: [/z-bad\.yaml/, /YAML error/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}services: [ { name: broken, endpoints: ["127.0.0.1:1"\n` }),
  },
  {
    name: 'an unknown kind', code: 'GW_CONFIG_SCHEMA', mentions: [/z-bad\.yaml/, /kind Deployment is not supported/, /kind/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: c }\nspec: { replicas: 1 }\n` }),
  },
  {
    name: 'an Ingress backend naming a port its Service does not have', code: 'GW_CONFIG_REFERENCE',
    mentions: [/Ingress default\/named/, /no port named "grpc"/, /backend\.service\.port\.name/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\napiVersion: v1\nkind: Service\nmetadata: { name: svc, namespace: default }\nspec: { ports: [{ name: http, port: 80 }] }\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: named, namespace: default }\nspec:\n  rules: [{ host: named.example, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: svc, port: { name: grpc } } } }] } }]\n` }),
  },
  {
    name: 'a higress-config ConfigMap whose gzip section Higress would reject (fields missing)', code: 'GW_CONFIG_SCHEMA',
    mentions: [/ConfigMap higress-system\/higress-config/, /data\.higress\.gzip/, /minContentLength/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: higress-config, namespace: higress-system }\ndata:\n  higress: |\n    gzip:\n      enable: false\n` }),
  },
  {
    name: 'a higress-config ConfigMap whose settings are not YAML', code: 'GW_CONFIG_YAML', mentions: [/ConfigMap higress-system\/higress-config/, /data\.higress/, /YAML error/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: higress-config, namespace: higress-system }\ndata:\n  higress: "downstream: [ {"\n` }),
  },
  {
    name: 'a schema violation in a WasmPlugin (failStrategy)', code: 'GW_CONFIG_SCHEMA', mentions: [/WasmPlugin higress-system\/bad/, /failStrategy/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\napiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: { name: bad, namespace: higress-system }\nspec: { url: "${refuse}", failStrategy: EXPLODE }\n` }),
  },
  {
    name: 'a schema violation in the native form (route name without namespace)', code: 'GW_CONFIG_SCHEMA', mentions: [/z-bad\.yaml/, /routes/],
    files: () => ({ 'z-bad.yaml': `routes:\n  - { name: no-namespace, path: /new, service: up.svc }\n` }),
  },
  {
    name: 'duplicate Ingress routes for the same host and path', code: 'GW_CONFIG_CONFLICT', mentions: [/already routed by default\/new/, /Ingress default\/new-again/],
    files: () => ({ 'z-bad.yaml': `${K8S_NEW_ROUTE}---\n${K8S_NEW_ROUTE.replace('name: new,', 'name: new-again,')}---\napiVersion: networking.higress.io/v1\nkind: McpBridge\nmetadata: { name: default, namespace: higress-system }\nspec: { registries: [] }\n` }),
  },
  {
    name: 'two native routes with the same match', code: 'GW_CONFIG_CONFLICT', mentions: [/already routed by default\/new/, /route default\/new-again/],
    files: () => ({ 'z-bad.yaml': 'routes:\n  - { name: default/new, path: /new, service: up.svc }\n  - { name: default/new-again, path: /new, service: up.svc }\n' }),
  },
  {
    name: 'a service defined twice', code: 'GW_CONFIG_CONFLICT', mentions: [/service up\.svc is defined twice/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}services: [{ name: up.svc, endpoints: ["127.0.0.1:1"] }]\n` }),
  },
  {
    name: 'a route to an undefined service', code: 'GW_CONFIG_REFERENCE', mentions: [/unknown service "nowhere\.svc"/, /route default\/new/],
    files: () => ({ 'z-bad.yaml': 'routes:\n  - { name: default/new, path: /new, service: nowhere.svc }\n' }),
  },
  {
    name: 'an Ingress path regex that does not compile', code: 'GW_CONFIG_SCHEMA', mentions: [/bad path regex/, /Ingress default\/regex/, /spec\.rules\[0\]\.http\.paths\[0\]\.path/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\n${K8S_NEW_ROUTE.replace('name: new,', 'name: regex,').replace('annotations: {', 'annotations: { nginx.ingress.kubernetes.io/use-regex: "true",').replace('path: /new, pathType: Prefix', 'path: "/new/(unclosed", pathType: ImplementationSpecific')}---\napiVersion: networking.higress.io/v1\nkind: McpBridge\nmetadata: { name: default, namespace: higress-system }\nspec: { registries: [] }\n` }),
  },
  {
    name: 'an HTTPRoute filter the gateway cannot apply (ExtensionRef)', code: 'GW_CONFIG_SCHEMA', mentions: [/filter type "ExtensionRef" is not supported/, /HTTPRoute default\/extension/, /spec\.rules\[0\]\.filters\[0\]\.type/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: extension, namespace: default }\nspec:\n  hostnames: [new.example]\n  rules:\n    - matches: [{ path: { type: PathPrefix, value: /new } }]\n      filters: [{ type: ExtensionRef, extensionRef: { group: example.com, kind: Filter, name: x } }]\n      backendRefs: [{ name: up.svc }]\n` }),
  },
  {
    name: 'an Ingress whitelist-source-range entry that is no address range', code: 'GW_CONFIG_SCHEMA', mentions: [/"10\.0\.0\.0\/33" is not an IP address or CIDR range/, /Ingress default\/new/, /whitelist-source-range/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\n${K8S_NEW_ROUTE.replace('annotations: {', 'annotations: { nginx.ingress.kubernetes.io/whitelist-source-range: "127.0.0.1, 10.0.0.0/33",')}---\napiVersion: networking.higress.io/v1\nkind: McpBridge\nmetadata: { name: default, namespace: higress-system }\nspec: { registries: [] }\n` }),
  },
  {
    name: 'an Ingress permanent-redirect that is no http(s) URL', code: 'GW_CONFIG_SCHEMA', mentions: [/permanent-redirect must be an http:\/\/ or https:\/\/ URL, not "ftp:\/\/files\.example"/, /Ingress default\/new/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\n${K8S_NEW_ROUTE.replace('annotations: {', 'annotations: { nginx.ingress.kubernetes.io/permanent-redirect: "ftp://files.example",')}---\napiVersion: networking.higress.io/v1\nkind: McpBridge\nmetadata: { name: default, namespace: higress-system }\nspec: { registries: [] }\n` }),
  },
  {
    name: 'an Ingress proxy-next-upstream-tries that is no number', code: 'GW_CONFIG_SCHEMA', mentions: [/proxy-next-upstream-tries must be a whole number, not many/, /Ingress default\/new/, /metadata\.annotations\["nginx\.ingress\.kubernetes\.io\/proxy-next-upstream-tries"\]/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\n${K8S_NEW_ROUTE.replace('annotations: {', 'annotations: { nginx.ingress.kubernetes.io/proxy-next-upstream-tries: "many",')}---\napiVersion: networking.higress.io/v1\nkind: McpBridge\nmetadata: { name: default, namespace: higress-system }\nspec: { registries: [] }\n` }),
  },
  {
    name: 'an HTTPRoute rule with both a RequestRedirect and backendRefs', code: 'GW_CONFIG_SCHEMA', mentions: [/RequestRedirect filter has neither a URLRewrite filter nor backendRefs/, /HTTPRoute default\/redirect/, /spec\.rules\[0\]\.filters/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: redirect, namespace: default }\nspec:\n  hostnames: [new.example]\n  rules:\n    - matches: [{ path: { type: PathPrefix, value: /new } }]\n      filters: [{ type: RequestRedirect, requestRedirect: { scheme: https } }]\n      backendRefs: [{ name: up.svc }]\n` }),
  },
  {
    name: 'a TLS listener whose certificate is garbage', code: 'GW_TLS', mentions: [/listener bad-tls/, /tls/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}listeners: [{ name: bad-tls, address: 127.0.0.1, port: 0, tls: [{ hosts: [a.example], cert: "-----BEGIN CERTIFICATE-----\\nnot a cert\\n-----END CERTIFICATE-----", key: "-----BEGIN PRIVATE KEY-----\\nnope\\n-----END PRIVATE KEY-----" }] }]\n` }),
  },
  {
    name: 'a plugin whose on_configure returns false', code: 'GW_PLUGIN_CONFIGURE', mentions: [/plugin refuser/, /rejected its configuration/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}plugins: [{ name: refuser, url: "${refuse}", config: { a: 1 } }]\n` }),
  },
  {
    name: 'a plugin that traps in on_configure', code: 'GW_PLUGIN_CONFIGURE', mentions: [/plugin trapper/, /unreachable|trap/i],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}plugins: [{ name: trapper, url: "${trapConfigure}", config: { a: 1 } }]\n` }),
  },
  {
    name: 'a plugin image that is not wasm', code: 'GW_PLUGIN_(FETCH|COMPILE)', mentions: [/not-wasm\.wasm/, /wasm|magic|\\0asm/i],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}plugins: [{ name: notwasm, url: "${notWasm}", config: { a: 1 } }]\n` }),
  },
  {
    name: 'a plugin URL whose file does not exist', code: 'GW_PLUGIN_FETCH', mentions: [/plugin missing|plugins\[0\]/, /url/],
    files: () => ({ 'z-bad.yaml': `${NEW_ROUTE}plugins: [{ name: missing, url: "file:///nonexistent/dir/plugin.wasm", config: { a: 1 } }]\n` }),
  },
];

for (const c of CASES) {
  test(`config with ${c.name} is rejected whole (${c.code.replace(/[()|]/g, ' ').trim()}); the previous snapshot serves throughout`, async () => {
    const before = await send(`${gw.admin}/config_dump`);
    const version = JSON.parse(before.text).version as number;
    const failedBefore = sample(await prometheus(gw), 'gateway_config_reloads_total{result="failed"}') ?? 0;
    const files = c.files();
    let result: { status: number; body: { ok: boolean; error?: { code: string; message: string; location?: { file?: string; object?: string; field?: string } } } } | undefined;
    const statuses = await underLoad(async () => {
      for (const [name, text] of Object.entries(files)) await dir.write(name, text);
      const r = await send(`${gw.admin}/reload`, { method: 'POST' });
      result = { status: r.status, body: JSON.parse(r.text) };
    });
    for (const name of Object.keys(files)) await rm(join(dir.dir, name), { force: true });
    assert.equal(result!.status, 400);
    assert.equal(result!.body.ok, false);
    assert.match(result!.body.error!.code, new RegExp(`^${c.code}$`));
    const msg = `${result!.body.error!.message} ${JSON.stringify(result!.body.error!.location ?? {})}`;
    for (const m of c.mentions) assert.match(msg, m, msg);
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `every request during the reload was served: ${statuses.join(',')}`);
    assert.equal((await send(`${gw.url}/new`, { headers: { host: 'new.example' } })).status, 404, 'nothing of the rejected change is live');
    const dump = JSON.parse((await send(`${gw.admin}/config_dump`)).text);
    assert.equal(dump.version, version, 'the running version is unchanged');
    assert.match(dump.lastError.code, new RegExp(`^${c.code}$`), 'the admin API reports the last error');
    assert.equal(sample(await prometheus(gw), 'gateway_config_reloads_total{result="failed"}'), failedBefore + 1);
  });
}

test('after the broken changes are removed, a good reload succeeds and clears the last error', async () => {
  await dir.write('z-good.yaml', NEW_ROUTE);
  const r = await send(`${gw.admin}/reload`, { method: 'POST' });
  assert.equal(r.status, 200, r.text);
  assert.equal((await send(`${gw.url}/new`)).status, 200);
  assert.equal(JSON.parse((await send(`${gw.admin}/config_dump`)).text).lastError, null);
});

test('a gateway started on a broken config refuses to start with the error, instead of serving nothing', async () => {
  const bad = await tempDir('bad-start-');
  try {
    await bad.write('gw.yaml', 'routes: [ { name: default/x, path: /, service: up.svc\n');
    await assert.rejects(gateway([bad.dir]), (err: Error & { code?: string }) => err.code === 'GW_CONFIG_YAML' && err.message.includes('gw.yaml'));
  } finally {
    await bad.remove();
  }
});
