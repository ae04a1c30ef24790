/**
 * Test helpers for the gateway: real upstream servers on port 0, config in temp dirs, a
 * gateway in this process (workers 0) with listener and admin on free ports.
 */
import http from 'node:http';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startGateway, type Gateway, type GatewayOptions } from '../../runtime/gateway/index.js';
import { pathToFileURL } from 'node:url';
import { testPluginPath } from '../host/helpers.js';

/** An upstream that answers JSON describing the request it got (`name`, method, url, headers). */
export async function echoServer(name: string, handler?: http.RequestListener): Promise<{ server: http.Server; port: number; close(): Promise<void> }> {
  const server = http.createServer(handler ?? ((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, bodyBytes: Buffer.concat(chunks).length });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name, connection: 'keep-alive', 'keep-alive': 'timeout=5' });
      if (!req.url?.includes('chunked=1')) return void res.end(body);
      // Asked for a body of unknown length: two chunks, chunked transfer encoding.
      res.write(body.slice(0, body.length >> 1));
      res.end(body.slice(body.length >> 1));
    });
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { server, port, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** A temp dir with config files; `write(name, text)` replaces a file atomically enough for the watcher. */
export async function configDir(): Promise<{ dir: string; write(name: string, text: string): Promise<string>; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-test-'));
  return {
    dir,
    async write(name, text) { const p = join(dir, name); await writeFile(p, text); return p; },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Starts an in-process gateway on free ports. */
export async function gateway(paths: string[], extra: Partial<GatewayOptions> = {}): Promise<Gateway & { url: string; admin: string }> {
  const gw = await startGateway({ paths, workers: 0, watch: false, load: { port: 0, httpsPort: 0, address: '127.0.0.1', adminPort: 0 }, ...extra });
  const port = Object.values(gw.ports())[0];
  return Object.assign(gw, { url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${gw.adminPort}` });
}

/** GET (or other method) through undici; returns status, headers and the body as text. */
export async function fetchText(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const r = await request(url, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers, body: opts.body });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
}

/** GET and parse the echo server's JSON. */
export async function echo(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; name?: string; url?: string; headers: Record<string, string>; respHeaders: Record<string, string | string[] | undefined> }> {
  const r = await fetchText(url, opts);
  if (r.status !== 200 || !String(r.headers['content-type']).includes('json')) return { status: r.status, headers: {}, respHeaders: r.headers };
  const j = JSON.parse(r.text);
  return { status: r.status, name: j.name, url: j.url, headers: j.headers, respHeaders: r.headers };
}

/** Native config for services named by upstream. */
export function services(list: Array<{ name: string; port: number; protocol?: string }>): string {
  return `services:\n${list.map((s) => `  - name: ${s.name}\n    endpoints: ["127.0.0.1:${s.port}"]\n${s.protocol ? `    protocol: ${s.protocol}\n` : ''}`).join('')}`;
}

export const QUIET = 'settings:\n  accessLog: "off"\n';

/** Native `plugins:` with the probe test plugin (test/plugins/probe) on every route. */
export const PROBE_PLUGIN = `plugins:\n  - { name: probe, url: ${pathToFileURL(testPluginPath('probe')).href} }\n`;

/** An Ingress `default/<name>` for `path` (Prefix) to the McpBridge static service `up.static`. */
export const ingressToUp = (name: string, path: string, annotations: Record<string, string> = {}): string => `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: default
  annotations: { higress.io/destination: "up.static"${Object.entries(annotations).map(([k, v]) => `, "${k}": "${v}"`).join('')} }
spec:
  rules:
    - http:
        paths:
          - { path: ${path}, pathType: Prefix, backend: { resource: { apiGroup: networking.higress.io, kind: McpBridge, name: default } } }
`;

/** The McpBridge `higress-system/default` with these registries (each a flow mapping, e.g. `{ type: static, name: a, domain: "127.0.0.1:8080" }`). */
export const mcpBridge = (registries: string[]): string => `apiVersion: networking.higress.io/v1
kind: McpBridge
metadata: { name: default, namespace: higress-system }
spec:
  registries:
${registries.map((r) => `    - ${r}\n`).join('')}`;

/** An Ingress `default/<name>` routing `host` + `path` to McpBridge destinations (the `higress.io/destination` value). */
export const mcpIngress = (name: string, host: string, path: string, pathType: string, dest: string, annotations: Record<string, string> = {}): string => `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: default
  annotations:
    higress.io/destination: "${dest}"
${Object.entries(annotations).map(([k, v]) => `    ${k}: "${v}"\n`).join('')}spec:
  rules:
    - host: ${host}
      http:
        paths:
          - path: ${path}
            pathType: ${pathType}
            backend:
              resource: { apiGroup: networking.higress.io, kind: McpBridge, name: default }
`;

/** An HTTPRoute `prod/<name>` for `host` with these rules (YAML list items indented by four spaces). */
export const httpRoute = (name: string, host: string, rules: string): string => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: prod }
spec:
  hostnames: [${host}]
  rules:
${rules}`;

/** A WasmPlugin enabled only on the given Ingress routes (`<namespace>/<name>`), with one rule config. */
export function wasmPluginOnRoutes(p: { name: string; url: string; routes: string[]; config: object; phase?: string; priority?: number }): string {
  const order = `${p.phase ? `\n  phase: ${p.phase}` : ''}${p.priority !== undefined ? `\n  priority: ${p.priority}` : ''}`;
  return `---
apiVersion: extensions.higress.io/v1alpha1
kind: WasmPlugin
metadata: { name: ${p.name}, namespace: higress-system }
spec:
  url: ${p.url}${order}
  defaultConfigDisable: true
  matchRules:
    - ingress: [${p.routes.join(', ')}]
      config: ${JSON.stringify(p.config)}
`;
}
