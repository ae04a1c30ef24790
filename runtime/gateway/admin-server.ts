/**
 * The admin API (127.0.0.1 by default): `GET /ready`, `GET /config_dump`, `GET /stats/prometheus`,
 * `POST /reload`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ControlPlane } from './control-plane.js';
import { renderPrometheus, type StatsData } from './stats.js';
import { staleFetch } from './plugin-source.js';

/** Extra statistics the admin server adds (the primary's watchdog count). */
export type ExtraStats = () => StatsData[];

function send(res: http.ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The active configuration without module bytes (digests instead). */
export function configDump(cp: ControlPlane): unknown {
  const m = cp.model;
  return {
    version: m?.version ?? 0,
    files: m?.files ?? [],
    lastError: cp.lastError ?? null,
    listeners: m?.listeners.map((l) => ({ name: l.name, address: l.address, port: l.port, tls: l.tls?.map((c) => ({ hosts: c.hosts })) })) ?? [],
    clusters: m?.clusters.map(({ source: _s, ...c }) => c) ?? [],
    routes: m?.routes.map(({ source: _s, ...r }) => r) ?? [],
    plugins: m?.plugins.map(({ wasm: _w, source: _s, ...p }) => {
      const stale = staleFetch(p.url);
      return { ...p, wasmBytes: _w?.length ?? 0, ...(stale ? { stale: true, staleError: stale.error, staleSince: stale.since } : {}) };
    }) ?? [],
    settings: m?.settings,
  };
}

/** `gateway_plugin_stale{plugin}`: 1 while a plugin runs a cached module because its source failed. */
function stalePrometheus(cp: ControlPlane): string {
  const plugins = cp.model?.plugins ?? [];
  if (plugins.length === 0) return '';
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  let text = '# HELP gateway_plugin_stale 1 when the plugin runs a cached module because fetching it failed\n# TYPE gateway_plugin_stale gauge\n';
  for (const p of plugins) text += `gateway_plugin_stale{plugin="${esc(p.id)}"} ${staleFetch(p.url) ? 1 : 0}\n`;
  return text;
}

/** Starts the admin server; resolves with the bound port. */
export function startAdmin(cp: ControlPlane, address: string, port: number, extra: ExtraStats = () => []): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && url === '/ready') {
      return cp.model ? send(res, 200, 'LIVE\n', 'text/plain') : send(res, 503, 'NOT READY\n', 'text/plain');
    }
    if (req.method === 'GET' && url === '/config_dump') return send(res, 200, configDump(cp));
    if (req.method === 'GET' && url === '/stats/prometheus') {
      cp.stats().then((parts) => send(res, 200, renderPrometheus([...parts, ...extra()]) + stalePrometheus(cp), 'text/plain; version=0.0.4'), (err) => send(res, 500, { error: String(err) }));
      return;
    }
    if (req.method === 'POST' && url === '/reload') {
      req.resume();
      cp.reload().then((r) => send(res, r.ok ? 200 : 400, r));
      return;
    }
    send(res, 404, { error: 'not found', endpoints: ['GET /ready', 'GET /config_dump', 'GET /stats/prometheus', 'POST /reload'] });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}
