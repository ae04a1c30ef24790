/**
 * Shared harness for the fault, bad-input and security suites: a real upstream on a free port,
 * an in-process gateway (workers 0) on free ports started from config files in a temp dir,
 * raw-socket and undici clients, the admin API, and a capture of what the gateway writes to
 * stderr (plugin logs) so tests can assert an event is visible in the log.
 */
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startGateway, type Gateway, type GatewayOptions } from '../../runtime/gateway/index.js';

/** A running upstream. `seen` lists the requests it received (headers as Node parsed them). */
export interface Upstream {
  port: number;
  server: http.Server;
  seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; rawHeaders: string[]; bodyBytes: number }>;
  close(): Promise<void>;
}

/** Starts an upstream answering `{"ok":true}` (or what `handler` does). */
export async function upstream(handler?: http.RequestListener): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => { bytes += c.length; });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes });
      if (handler) return handler(req, res);
      const body = JSON.stringify({ ok: true, bodyBytes: bytes });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port, server, seen,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A temp dir for config and plugin files. */
export async function tempDir(prefix = 'proof-'): Promise<{ dir: string; write(name: string, text: string | Uint8Array): Promise<string>; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return {
    dir,
    async write(name, text) { const p = join(dir, name); await writeFile(p, text); return p; },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A gateway started in this process with `url` (first listener) and `admin` base URLs. */
export type TestGateway = Gateway & { url: string; port: number; admin: string };

/** Starts an in-process gateway on free ports from config `paths`. */
export async function gateway(paths: string[], extra: Partial<GatewayOptions> = {}): Promise<TestGateway> {
  const gw = await startGateway({ paths, workers: 0, watch: false, load: { port: 0, httpsPort: 0, address: '127.0.0.1', adminPort: 0 }, ...extra });
  const port = Object.values(gw.ports())[0];
  return Object.assign(gw, { port, url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${gw.adminPort}` });
}

/** One request through undici; never throws for HTTP statuses. `error` is set when the exchange failed. */
export async function send(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string; error?: string }> {
  try {
    const r = await request(url, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers, body: opts.body });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, text };
  } catch (err) {
    return { status: 0, headers: {}, text: '', error: `${(err as Error).message} ${String((err as { code?: string }).code ?? '')}` };
  }
}

/** One request on a fresh connection with node:http (no retries, no pooling); `timeoutMs` gives up with error `timeout`. */
export function once(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string; error?: string }> {
  return new Promise((resolve) => {
    if (opts.timeoutMs) setTimeout(() => { req.destroy(); resolve({ status: 0, headers: {}, text: '', error: 'timeout' }); }, opts.timeoutMs).unref();
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString(), error: e.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString(), error: 'aborted' }));
    });
    req.on('error', (e) => resolve({ status: 0, headers: {}, text: '', error: e.message }));
    req.end(opts.body);
  });
}

/** Writes raw bytes on a new TCP connection and returns everything read until the server closes or `waitMs` of silence. */
export function raw(port: number, bytes: string | Buffer, waitMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout;
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); };
    const arm = () => { clearTimeout(timer); timer = setTimeout(done, waitMs); };
    sock.on('connect', () => { sock.write(bytes); arm(); });
    sock.on('data', (c) => { chunks.push(c); arm(); });
    sock.on('close', done);
    sock.on('error', () => undefined);
  });
}

/** The admin API's Prometheus text. */
export async function prometheus(gw: TestGateway): Promise<string> {
  return (await send(`${gw.admin}/stats/prometheus`)).text;
}

/** Value of one Prometheus sample (`name{labels}`), or undefined. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** Active streams the plugins of this gateway still hold (the per-plugin gauge the data plane reports). */
export async function activeStreams(gw: TestGateway): Promise<number> {
  const parts = await gw.controlPlane.stats();
  let n = 0;
  for (const p of parts) for (const s of p.plugins ?? []) n += s.activeStreams;
  return n;
}

/** Polls `fn` until it returns true or `ms` pass. */
export async function eventually(fn: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Captures what this process writes to stderr (plugin log lines go there) while tests run. */
export function captureStderr(): { text(): string; stop(): void } {
  const chunks: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  (process.stderr as unknown as { write: unknown }).write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
  };
  return { text: () => chunks.join(''), stop: () => { (process.stderr as unknown as { write: unknown }).write = original; } };
}

/** Native config text for one upstream service named `up.svc`. */
export function serviceYaml(port: number, name = 'up.svc'): string {
  return `services:\n  - name: ${name}\n    endpoints: ["127.0.0.1:${port}"]\n`;
}
