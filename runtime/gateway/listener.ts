/**
 * Downstream listeners. A plain listener serves HTTP/1.1 and h2c on one port (the HTTP/2
 * connection preface decides); a TLS listener negotiates h2 or http/1.1 by ALPN and picks the
 * certificate by SNI. WebSocket upgrades (HTTP/1.1) are handed to the upgrade handler.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { DEFAULT_SETTINGS, type ModelCertificate, type ModelHttp2, type ModelListener } from './config-model.js';
import type { ConnInfo, DownReq, DownRes } from './proxy.js';
import { ConfigError, CONFIG_CODES } from './errors.js';

/** Request and upgrade handlers a listener calls. */
export interface ListenerHandlers {
  request(req: DownReq, res: DownRes, conn: ConnInfo): void;
  upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, conn: ConnInfo): void;
}

/** An address without the `::ffff:` prefix Node gives IPv4 clients of a dual-stack socket; '' when missing. */
function plainIp(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

let nextConnId = 1;
const connInfo = new WeakMap<object, ConnInfo>();

function infoOf(socket: net.Socket, tlsOn: boolean): ConnInfo {
  let info = connInfo.get(socket);
  if (!info) {
    info = {
      id: nextConnId++,
      remoteAddress: plainIp(socket.remoteAddress),
      remotePort: socket.remotePort ?? 0,
      localAddress: plainIp(socket.localAddress),
      localPort: socket.localPort ?? 0,
      tls: tlsOn,
      sni: tlsOn ? ((socket as tls.TLSSocket & { servername?: string }).servername || undefined) : undefined,
    };
    connInfo.set(socket, info);
  }
  return info;
}

/** Wraps a socket whose first bytes were already read so `node:http2` sees them (it would otherwise read the handle directly). */
function replayable(socket: net.Socket): Duplex {
  const d = new Duplex({
    read() { socket.resume(); },
    write(chunk, _enc, cb) { socket.write(chunk, cb); },
    final(cb) { socket.end(); cb(); },
    destroy(err, cb) { socket.destroy(err ?? undefined); cb(err); },
  });
  socket.on('data', (x) => { if (!d.push(x)) socket.pause(); });
  socket.on('end', () => d.push(null));
  socket.on('error', (e) => d.destroy(e));
  socket.on('close', () => d.destroy());
  return d;
}

/** Node's interval for the HTTP/1 headersTimeout check; a quarter of the limit so short limits are not stretched (30 s by default). */
function checkIntervalMs(headersMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(headersMs / 4)));
}

/**
 * The TLS handshake limit lives in a private field of `tls.Server`, read for each new connection
 * (there is no setter); found by its symbol's description so a changed headersTimeoutMs reaches
 * new handshakes on a running listener. Undefined when Node names it differently.
 */
function handshakeTimeoutKey(server: object): symbol | undefined {
  return Object.getOwnPropertySymbols(server).find((s) => s.description === 'handshake-timeout');
}

/** One running listener. */
export class Listener {
  /** The listener's configuration; {@link update} replaces it when only timeouts (or the name) changed. */
  model: ModelListener;
  private readonly server: net.Server;
  private readonly h1?: http.Server;
  private readonly h2: http2.Http2Server | http2.Http2SecureServer;
  private readonly sockets = new Set<net.Socket>();
  /** Open HTTP/2 sessions and the function that restarts their no-stream timer (for {@link update}). */
  private readonly sessions = new Map<http2.Http2Session, () => void>();
  private pendingH2c?: ConnInfo;
  private headersMs: number;
  private idleMs: number;
  private maxHeadBytes: number;
  private http2: ModelHttp2;

  constructor(model: ModelListener, private readonly handlers: ListenerHandlers) {
    this.model = model;
    this.headersMs = model.headersTimeoutMs ?? 60_000;
    this.idleMs = model.idleTimeoutMs ?? 65_000;
    this.maxHeadBytes = model.maxRequestHeadersBytes ?? DEFAULT_SETTINGS.maxRequestHeadersBytes;
    this.http2 = model.http2 ?? DEFAULT_SETTINGS.http2;
    const headersMs = this.headersMs;
    const idleMs = this.idleMs;
    const settings = this.h2Settings();
    const checkMs = checkIntervalMs(headersMs);
    const guard = (sess: http2.Http2Session) => this.guardSession(sess);
    if (model.tls?.length) {
      const contexts = model.tls.map((c) => ({ cert: c, ctx: tls.createSecureContext({ cert: c.cert, key: c.key }) }));
      const secure = http2.createSecureServer({
        allowHTTP1: true,
        cert: model.tls[0].cert,
        key: model.tls[0].key,
        ALPNProtocols: ['h2', 'http/1.1'],
        SNICallback: (name, cb) => cb(null, pickContext(contexts, name)),
        handshakeTimeout: headersMs,
        settings,
      });
      // The HTTP/1.1 side of an allowHTTP1 server reads these like an http.Server does.
      Object.assign(secure, { headersTimeout: headersMs, keepAliveTimeout: idleMs, requestTimeout: 0, connectionsCheckingInterval: checkMs, maxHeaderSize: this.maxHeadBytes });
      secure.on('session', guard);
      secure.on('request', (req, res) => {
        const info = infoOf((req.httpVersionMajor === 2 ? (req as http2.Http2ServerRequest).stream.session?.socket : req.socket) as net.Socket, true);
        handlers.request(req as DownReq, res as DownRes, info);
      });
      secure.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => handlers.upgrade(req, socket, head, infoOf(socket, true)));
      secure.on('secureConnection', (s: tls.TLSSocket) => { this.track(s); infoOf(s, true); });
      secure.on('session', (sess) => { const sock = sess.socket as unknown as net.Socket; if (sock) infoOf(sock, true); });
      this.h2 = secure;
      this.server = secure;
    } else {
      const h1 = http.createServer({ keepAliveTimeout: idleMs, headersTimeout: headersMs, requestTimeout: 0, connectionsCheckingInterval: checkMs, maxHeaderSize: this.maxHeadBytes });
      // h1 never listens itself (sockets are handed to it), and Node starts the headersTimeout
      // checks on 'listening': start them here; close() stops them.
      h1.emit('listening');
      h1.on('request', (req, res) => handlers.request(req, res, infoOf(req.socket, false)));
      h1.on('upgrade', (req, socket, head) => handlers.upgrade(req, socket as net.Socket, head, infoOf(socket as net.Socket, false)));
      const sessionInfo = new WeakMap<http2.Http2Session, ConnInfo>();
      const h2 = http2.createServer({ settings });
      h2.on('session', (sess) => { if (this.pendingH2c) sessionInfo.set(sess, this.pendingH2c); this.pendingH2c = undefined; guard(sess); });
      h2.on('request', (req, res) => {
        const info = sessionInfo.get(req.stream.session!) ?? { id: 0, remoteAddress: '', remotePort: 0, localAddress: '', localPort: 0, tls: false };
        handlers.request(req, res, info);
      });
      this.h1 = h1;
      this.h2 = h2;
      this.server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
        this.track(socket);
        // Until the first byte decides h1 or h2c no server owns the socket: a client that sends
        // nothing would otherwise hold it (and its fd) forever.
        socket.setTimeout(this.headersMs, () => socket.destroy());
        socket.once('data', (chunk) => {
          socket.setTimeout(0);
          socket.pause();
          socket.unshift(chunk);
          // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": no HTTP/1 method starts with PRI.
          if (chunk.length >= 3 && chunk[0] === 0x50 && chunk[1] === 0x52 && chunk[2] === 0x49) {
            this.pendingH2c = infoOf(socket, false);
            h2.emit('connection', replayable(socket));
            this.pendingH2c = undefined;
          } else {
            h1.emit('connection', socket);
          }
          socket.resume();
        });
      });
    }
  }

  /**
   * What HTTP/2 clients are told: the request head limit (SETTINGS_MAX_HEADER_LIST_SIZE; a
   * stream past it is reset; HTTP/1.1 answers 431), the concurrent streams and the stream window.
   */
  private h2Settings(): http2.Settings {
    return { maxHeaderListSize: this.maxHeadBytes, maxConcurrentStreams: this.http2.maxConcurrentStreams, initialWindowSize: this.http2.initialStreamWindowSize };
  }

  /**
   * Client timeouts for an HTTP/2 session. Node's session timeout counts any frame as activity,
   * so a client sending only PINGs or SETTINGS (or stalled in the middle of a HEADERS block, which
   * nghttp2 does not report as a stream) would never expire. So while the session has no open
   * stream a timer runs that frames do not reset: headersTimeoutMs until the first request (as a
   * connection's first request head on HTTP/1.1), idleTimeoutMs after the last one ended. With
   * streams open, idleTimeoutMs without any frame either way still ends the session.
   * Expiry: GOAWAY, then the socket is destroyed if the client does not leave within a second.
   */
  private guardSession(sess: http2.Http2Session): void {
    // The connection window is the session's own, not a setting.
    sess.setLocalWindowSize(this.http2.initialConnectionWindowSize);
    let open = 0;
    let served = false;
    let timer: NodeJS.Timeout | undefined;
    const expire = () => {
      clearTimeout(timer);
      if (sess.destroyed) return;
      sess.close();
      setTimeout(() => sess.destroy(), 1000).unref();
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(expire, served ? this.idleMs : this.headersMs);
      timer.unref();
    };
    this.sessions.set(sess, () => { if (open === 0) arm(); });
    sess.setTimeout(this.idleMs, expire);
    sess.on('stream', (stream: http2.ServerHttp2Stream) => {
      served = true;
      open++;
      clearTimeout(timer);
      stream.once('close', () => { if (--open === 0 && !sess.closed && !sess.destroyed) arm(); });
    });
    sess.once('close', () => { clearTimeout(timer); this.sessions.delete(sess); });
    arm();
  }

  /**
   * Takes a new configuration for the same address, port and certificates: changed client
   * timeouts apply to the running servers without closing the port or any connection. New
   * connections and the next request head or idle period of existing HTTP/1.1 connections use
   * the new values; open HTTP/2 sessions get the new limits at once (an idle one counts afresh).
   */
  update(model: ModelListener): void {
    this.model = model;
    const maxHeadBytes = model.maxRequestHeadersBytes ?? DEFAULT_SETTINGS.maxRequestHeadersBytes;
    const http2 = model.http2 ?? DEFAULT_SETTINGS.http2;
    if (maxHeadBytes !== this.maxHeadBytes || JSON.stringify(http2) !== JSON.stringify(this.http2)) {
      this.maxHeadBytes = maxHeadBytes;
      this.http2 = http2;
      // A constructor option and a plain property (missing from @types/node), read per new
      // HTTP/1.1 connection; new HTTP/2 sessions get the new settings.
      ((this.h1 ?? this.h2) as unknown as { maxHeaderSize: number }).maxHeaderSize = maxHeadBytes;
      this.h2.updateSettings(this.h2Settings());
    }
    const headersMs = model.headersTimeoutMs ?? 60_000;
    const idleMs = model.idleTimeoutMs ?? 65_000;
    if (headersMs === this.headersMs && idleMs === this.idleMs) return;
    const headersChanged = headersMs !== this.headersMs;
    this.headersMs = headersMs;
    this.idleMs = idleMs;
    // connectionsCheckingInterval is a constructor option and a plain property, missing from @types/node's Server.
    const h1 = (this.h1 ?? this.h2) as unknown as http.Server & { connectionsCheckingInterval: number };
    h1.headersTimeout = headersMs;
    h1.keepAliveTimeout = idleMs;
    if (headersChanged) {
      h1.connectionsCheckingInterval = checkIntervalMs(headersMs);
      // Node (re)starts the check interval on 'listening', clearing the previous one.
      if (this.h1 || this.server.listening) h1.emit('listening');
      if (!this.h1) {
        const key = handshakeTimeoutKey(this.server);
        if (key) (this.server as unknown as Record<symbol, number>)[key] = headersMs;
      }
    }
    for (const [sess, rearm] of this.sessions) {
      if (sess.destroyed) continue;
      sess.setTimeout(idleMs);
      rearm();
    }
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new ConfigError('GW_LISTEN', `cannot listen on ${this.model.address}:${this.model.port}: ${err.message}`, { object: `listener ${this.model.name}` }, { cause: err }));
      this.server.once('error', onError);
      this.server.listen({ port: this.model.port, host: this.model.address }, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo | null)?.port ?? this.model.port;
  }

  /** Stops accepting; closes idle keep-alive connections now and the rest after `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.h1?.closeIdleConnections();
    // Stops the headersTimeout interval (the server never listened, so close() has nothing else to do).
    this.h1?.close();
    const timer = setTimeout(() => { for (const s of this.sockets) s.destroy(); }, graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }
}

function pickContext(contexts: Array<{ cert: ModelCertificate; ctx: tls.SecureContext }>, name: string): tls.SecureContext {
  const host = name.toLowerCase();
  for (const c of contexts) if (c.cert.hosts.some((h) => h.toLowerCase() === host)) return c.ctx;
  for (const c of contexts) if (c.cert.hosts.some((h) => h.startsWith('*.') && host.endsWith(h.slice(1).toLowerCase()))) return c.ctx;
  return contexts[0].ctx;
}

/** Validates certificates up front so a bad key is a config error, not a listener crash. */
export function checkCertificates(model: ModelListener): void {
  for (const c of model.tls ?? []) {
    try {
      tls.createSecureContext({ cert: c.cert, key: c.key });
    } catch (err) {
      throw new ConfigError(CONFIG_CODES.tls, `bad certificate or key for ${c.hosts.join(',') || '(default)'}: ${(err as Error).message}`, { object: `listener ${model.name}`, field: 'tls' }, { cause: err });
    }
  }
}
