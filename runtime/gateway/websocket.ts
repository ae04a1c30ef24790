/**
 * HTTP/1.1 upgrade passthrough (WebSocket): route the upgrade request like any other, then
 * splice the client and upstream sockets together. The upstream's `101` answer passes through
 * unchanged. Plugins do not see upgraded streams.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { ConnInfo } from './proxy.js';
import { chooseCluster, hostOf, rewritePath } from './router.js';
import type { Snapshot } from './snapshot.js';

function refuse(socket: net.Socket, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/** Proxies one upgrade request. */
export function handleUpgrade(snap: Snapshot, req: IncomingMessage, socket: net.Socket, head: Buffer, conn: ConnInfo): void {
  const url = req.url || '/';
  const qi = url.indexOf('?');
  const path = qi < 0 ? url : url.slice(0, qi);
  const get = (n: string) => { const v = req.headers[n]; return Array.isArray(v) ? v[0] : v; };
  const route = snap.router.match(hostOf(req.headers.host), req.method ?? 'GET', path, qi < 0 ? '' : url.slice(qi + 1), get);
  if (!route || route.model.direct) return refuse(socket, 404, 'Not Found');
  const target = chooseCluster(route, get);
  const cluster = snap.clusters.get(target.cluster);
  const ep = cluster?.pick();
  if (!cluster || !ep) return refuse(socket, 503, 'Service Unavailable');
  const newPath = rewritePath(route, target.canary, url, path);
  const lines = [`${req.method} ${newPath} HTTP/1.1`];
  const raw = req.rawHeaders;
  let xff = '';
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'x-forwarded-for') { xff = raw[i + 1]; continue; }
    lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  const client = (conn.remoteAddress || '').replace(/^::ffff:/, '');
  lines.push(`x-forwarded-for: ${xff ? `${xff}, ${client}` : client}`);
  if (!req.headers['x-forwarded-proto']) lines.push(`x-forwarded-proto: ${conn.tls ? 'https' : 'http'}`);
  const secure = cluster.model.protocol === 'https';
  const host = ep.model.host;
  const up = secure
    ? tls.connect({ host, port: ep.model.port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: cluster.model.tlsVerify })
    : net.connect({ host, port: ep.model.port });
  snap.acquire();
  let released = false;
  const release = () => { if (!released) { released = true; snap.release(); } };
  up.once(secure ? 'secureConnect' : 'connect', () => {
    up.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  up.on('error', () => { if (!socket.destroyed) refuse(socket, 502, 'Bad Gateway'); cluster.eject(ep); });
  socket.on('error', () => up.destroy());
  up.on('close', () => { socket.destroy(); release(); });
  socket.on('close', () => { up.destroy(); release(); });
}
