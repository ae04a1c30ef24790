/**
 * The demo behind `npm start`: a built-in upstream that echoes what it received, and an embedded
 * config with the example plugins (those that are built) on a few routes in front of it.
 */
import http from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { PACKAGE_ROOT } from '../../spec/index.js';
import type { ConfigDocument } from './config-files.js';

/** Starts the demo upstream on 127.0.0.1 (port 0 = any); it answers JSON with the request it got. */
export async function startDemoUpstream(port = 0): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ upstream: 'demo', method: req.method, path: req.url, headers: req.headers, bodyBytes: size }, null, 2);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** One demo plugin: which example, its config, and the curl lines that show it. */
export interface DemoPlugin {
  example: string;
  phase?: string;
  priority?: number;
  config?: Record<string, unknown>;
  rules?: Array<Record<string, unknown>>;
  configDisable?: boolean;
  tries: string[];
}

/** The demo's plugins, in the order their lines are printed. */
export const DEMO_PLUGINS: DemoPlugin[] = [
  { example: 'hello-world', config: { header: 'x-hello', value: 'world' }, tries: ['curl -i {url}/  # x-hello: world added to the request (see the echo) and to the response'] },
  {
    example: 'request-block', config: { block_urls: ['swagger.html', '/admin'], case_sensitive: false, blocked_message: 'blocked by request-block' },
    tries: ['curl -i {url}/admin/users  # 403 blocked by request-block'],
  },
  {
    example: 'basic-auth', phase: 'AUTHN', priority: 320, configDisable: true,
    rules: [{ routes: ['demo/basic'], config: { consumers: [{ name: 'alice', credential: 'alice:secret' }], allow: ['alice'] } }],
    tries: ['curl -i {url}/basic  # 401 without credentials', 'curl -i -u alice:secret {url}/basic  # 200, upstream sees x-mse-consumer: alice'],
  },
  {
    example: 'key-auth', phase: 'AUTHN', priority: 310, configDisable: true,
    rules: [{ routes: ['demo/key'], config: { consumers: [{ name: 'bob', credential: 'demo-key-123' }], keys: ['x-api-key'], in_header: true, in_query: true, allow: ['bob'] } }],
    tries: ['curl -i {url}/key  # 401 without a key', "curl -i -H 'x-api-key: demo-key-123' {url}/key  # 200 as consumer bob"],
  },
  {
    example: 'transformer', configDisable: true,
    rules: [{
      routes: ['demo/transform'],
      config: {
        reqRules: [{ operate: 'remove', headers: [{ key: 'x-remove-me' }] }, { operate: 'add', headers: [{ key: 'x-transformed', value: 'yes' }] }],
        respRules: [{ operate: 'add', headers: [{ key: 'x-powered-by', value: 'higress-plugin' }] }],
      },
    }],
    tries: ["curl -i -H 'x-remove-me: 1' {url}/transform  # upstream sees x-transformed, not x-remove-me; response has x-powered-by"],
  },
  {
    example: 'key-rate-limit', configDisable: true,
    rules: [{ routes: ['demo/limited'], config: { limit_by_header: 'x-api-key', limit_keys: [{ key: 'demo', query_per_minute: 3 }] } }],
    tries: ["for i in 1 2 3 4; do curl -s -o /dev/null -w '%{http_code}\\n' -H 'x-api-key: demo' {url}/limited; done  # 200 200 200 429"],
  },
];

/** Path of an example's built module. */
export function exampleWasm(name: string): string {
  return join(PACKAGE_ROOT, 'examples', name, 'build', 'plugin.wasm');
}

/** The embedded config as documents (plugins whose example is not built are left out, as are those in `skip`). */
export function demoDocuments(upstreamPort: number, port: number, adminPort: number, skip: Set<string> = new Set()): ConfigDocument[] {
  const plugins = DEMO_PLUGINS.filter((p) => existsSync(exampleWasm(p.example)) && !skip.has(p.example)).map((p) => ({
    name: p.example,
    url: pathToFileURL(exampleWasm(p.example)).href,
    ...(p.phase ? { phase: p.phase } : {}),
    ...(p.priority !== undefined ? { priority: p.priority } : {}),
    ...(p.config ? { config: p.config } : {}),
    ...(p.configDisable ? { configDisable: true } : {}),
    ...(p.rules ? { rules: p.rules } : {}),
  }));
  const route = (name: string, path: string) => ({ name: `demo/${name}`, path, service: 'demo.local' });
  return [{
    file: '(embedded demo config)',
    index: 0,
    value: {
      listeners: [{ name: 'demo', address: '127.0.0.1', port }],
      admin: { address: '127.0.0.1', port: adminPort },
      settings: { accessLog: 'stdout' },
      services: [{ name: 'demo.local', endpoints: [`127.0.0.1:${upstreamPort}`] }],
      routes: [route('basic', '/basic'), route('key', '/key'), route('transform', '/transform'), route('limited', '/limited'), route('default', '/')],
      plugins,
    },
  }];
}
