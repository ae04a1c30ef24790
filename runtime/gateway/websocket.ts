/**
 * HTTP/1.1 upgrades (WebSocket). The upgrade request is routed like any request and its headers
 * run through the route's plugin chain, as Envoy runs the HTTP filters' `on_request_headers` on
 * it: a plugin may answer locally (a 401 before any upgrade; no upstream connection is made) or
 * change the headers the upstream sees. The upstream's answer head (`101`, or a refusal) runs
 * through the response-header callbacks, so plugins may add headers to the `101`. The upgraded
 * connection's bytes are the stream's body, as in Envoy: when a plugin has a body callback for a
 * direction, that direction's bytes (WebSocket frames, as they are on the wire) pass through the
 * chain; otherwise the sockets are spliced.
 */

import { STATUS_CODES, type IncomingMessage } from 'node:http';
import net from 'node:net';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import tls from 'node:tls';
import type { HeaderList, LocalResponse, PhaseResult } from '../host/types.js';
import { addForwardedHeaders, findHeader, isHopByHop, requestHeaderList } from './proxy-headers.js';
import type { ConnInfo, ProxyContext } from './proxy.js';
import { chooseCluster, hostOf, requestHeader, type CompiledRoute } from './router.js';
import { applyHeaderMods, applyRouterStage, balanceKey, routeAnswer } from './router-stage.js';
import type { ChainLike, Snapshot } from './snapshot.js';
import { newRequestId } from './request-id.js';
import { recordStreamEnd } from './stream-end.js';
import { streamInfoFor } from './stream-info.js';
import { isConnectFailure, type Endpoint, type UpstreamCluster } from './upstream-pool.js';

/** Largest upstream answer head read before the splice; beyond it the upstream is broken (502). */
const MAX_HEAD_BYTES = 64 * 1024;
/** How long a socket that got a final answer may stay half-open before it is destroyed. */
const CLOSE_GRACE_MS = 2000;
const EMPTY = new Uint8Array(0);
const REQUEST = 0;
const RESPONSE = 1;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;

/**
 * Proxies one upgrade request on `socket` (which Node's HTTP server has detached from its
 * parser); `head` holds bytes the client sent after the request head. Never throws: errors
 * become an HTTP answer on the socket or close it.
 */
export function handleUpgrade(ctx: ProxyContext, req: IncomingMessage, socket: net.Socket, head: Buffer, conn: ConnInfo): void {
  const ex = new UpgradeExchange(ctx, req, socket, conn);
  ex.run(head).catch((err) => ex.fail(err));
}

/** Head lines for a header list (pseudo-headers skipped), or undefined when a name or value could split the message. */
function headLines(first: string, list: HeaderList, skip?: (name: string) => boolean): string[] | undefined {
  const lines = [first];
  for (const [k, v] of list) {
    if (k.charCodeAt(0) === 58 || (skip && skip(k))) continue;
    if (!TOKEN.test(k) || BAD_VALUE.test(v)) return undefined;
    lines.push(`${k}: ${v}`);
  }
  return lines;
}

/** Parses an HTTP/1.x response head (without the blank line) into `:status` + headers, names lower-cased. */
function parseResponseHead(text: string): HeaderList | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]);
  if (!m) return undefined;
  const list: HeaderList = [[':status', m[1]]];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const c = line.indexOf(':');
    if (c <= 0) return undefined;
    list.push([line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim()]);
  }
  return list;
}

const CR = 13;
const LF = 10;

/**
 * Finds where a chunked body ends (after the last chunk and the trailers), fed piece by piece;
 * with `payload`, also hands on the chunks' data without the framing.
 */
class ChunkedBody {
  constructor(readonly payload?: (data: Buffer) => void) {}

  private state: 'size' | 'data' | 'dataEnd' | 'trailer' = 'size';
  private size = 0;
  private inExtension = false;
  private left = 0;
  private lineLength = 0;

  /** Offset just past the body's end in `chunk`, or -1 when the body goes on. */
  feed(chunk: Buffer): number {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      switch (this.state) {
        case 'size':
          if (c === LF) {
            if (this.size === 0) { this.state = 'trailer'; this.lineLength = 0; }
            else { this.state = 'data'; this.left = this.size; }
            this.size = 0;
            this.inExtension = false;
          } else if (c === 0x3b /* ; */) this.inExtension = true;
          else if (c !== CR && !this.inExtension) {
            const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
            if (d >= 0) this.size = this.size * 16 + d;
          }
          break;
        case 'data': {
          const n = Math.min(this.left, chunk.length - i);
          this.payload?.(chunk.subarray(i, i + n));
          this.left -= n;
          i += n - 1;
          if (this.left === 0) this.state = 'dataEnd';
          break;
        }
        case 'dataEnd':
          if (c === LF) this.state = 'size';
          break;
        case 'trailer':
          if (c === LF) {
            if (this.lineLength === 0) return i + 1;
            this.lineLength = 0;
          } else if (c !== CR) this.lineLength++;
          break;
      }
    }
    return -1;
  }
}

/** Resolves when `s` can take more writes, or is closed. */
function drained(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

class UpgradeExchange {
  private readonly snap: Snapshot;
  private readonly start = process.hrtime.bigint();
  private readonly requestId: string;
  private readonly authority: string;
  private route?: CompiledRoute;
  private routeName = '';
  private clusterName = '';
  private upstreamAddr = '';
  private chain?: ChainLike;
  private upstream?: net.Socket;
  private status = 0;
  private detail?: string;
  /** A final answer (or the upstream's head) was written to the client. */
  private answered = false;
  /** The client and upstream sockets are joined (after a 101). */
  private spliced = false;
  /** The endpoint this connection counts as in flight to (least-request balancing). */
  private inFlight?: Endpoint;
  /** The request stream was ended before the upstream was reached (a plugin waited for a body). */
  private requestEnded = false;
  private done = false;

  constructor(private readonly ctx: ProxyContext, private readonly req: IncomingMessage, private readonly socket: net.Socket, private readonly conn: ConnInfo) {
    this.snap = ctx.snapshot();
    this.snap.acquire();
    const h = req.headers;
    this.requestId = (Array.isArray(h['x-request-id']) ? h['x-request-id'][0] : h['x-request-id']) || newRequestId();
    this.authority = h.host ?? '';
    socket.on('error', () => this.upstream?.destroy());
    socket.once('close', () => this.finish());
    if (socket.closed) queueMicrotask(() => this.finish());
  }

  private header = (name: string): string | undefined => requestHeader(this.req, name, this.authority, this.conn.tls);

  async run(head: Buffer): Promise<void> {
    const req = this.req;
    const method = req.method ?? 'GET';
    const url = req.url || '/';
    const host = hostOf(this.authority);
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const route = this.snap.router.match(host, method, path, qi < 0 ? '' : url.slice(qi + 1), this.header);
    this.route = route;
    let canary = false;
    if (route) {
      this.routeName = route.model.name;
      if (route.model.backends.length) {
        const t = chooseCluster(route, this.header);
        this.clusterName = t.cluster;
        canary = t.canary;
      }
    }
    if (route?.sourceAllowed && !route.sourceAllowed(this.conn.remoteAddress)) return this.sendSimple(403, 'source_not_allowed', 'client address not allowed');
    const scheme = this.conn.tls ? 'https' : 'http';
    let headers = requestHeaderList(req.rawHeaders, method, url, this.authority, scheme);
    // Envoy keeps the upgrade headers on an upgrade request (plugins see them); they are hop-by-hop otherwise.
    const upgrade = this.header('upgrade');
    if (upgrade) headers.push(['upgrade', upgrade], ['connection', 'upgrade']);
    addForwardedHeaders(headers, this.conn.remoteAddress, scheme, this.authority, this.requestId, this.snap.model.settings, 'HTTP/1.1');

    const plugins = this.snap.pluginsFor(this.routeName, host, this.clusterName);
    if (plugins.length && this.snap.chainFactory) {
      const chain = this.snap.chainFactory(plugins, streamInfoFor(this.conn, {
        requestId: this.requestId, protocol: 'HTTP/1.1', routeName: this.routeName, clusterName: this.clusterName,
      }));
      this.chain = chain;
      // Not end of stream: as in Envoy, the upgraded connection's bytes are the stream's body.
      let r = await chain.requestHeaders(headers, false);
      // A plugin waiting for the body before releasing the headers: the upgrade request has none, end it.
      if (!this.done && r.kind === 'continue' && !r.headers) {
        this.requestEnded = true;
        r = await chain.requestData(EMPTY, true);
      }
      if (this.done) return;
      if (!this.applyResult(r)) return;
      if (r.kind === 'continue' && r.headers) headers = r.headers;
    }

    if (!route) return this.sendSimple(404, 'route_not_found', 'no route matched');
    const own = routeAnswer(headers, route, this.conn.tls, this.conn.localPort);
    if (own) return this.sendSimple(own.status, 'direct_response', own.body, own);
    const cluster = this.snap.clusters.get(this.clusterName);
    if (!cluster) return this.sendSimple(503, 'cluster_not_found', `no cluster ${this.clusterName}`);
    applyRouterStage(headers, route, canary);
    const hash = cluster.model.loadBalancer?.hash;
    const ep = cluster.pick(undefined, hash && balanceKey(hash, headers, this.conn.remoteAddress));
    if (!ep) return this.sendSimple(503, 'no_healthy_upstream', 'no endpoint');
    const pathOut = headers[findHeader(headers, ':path')]?.[1] ?? url;
    const authorityOut = headers[findHeader(headers, ':authority')]?.[1] ?? this.authority;
    const methodOut = headers[findHeader(headers, ':method')]?.[1] ?? method;
    const lines = headLines(`${methodOut} ${pathOut} HTTP/1.1`, headers);
    if (!lines || BAD_VALUE.test(pathOut) || pathOut.includes(' ') || BAD_VALUE.test(authorityOut)) {
      return this.sendSimple(500, 'invalid_header', 'invalid header in the upgrade request');
    }
    lines.splice(1, 0, `host: ${authorityOut}`);
    this.connect(cluster, ep, Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head, 0);
  }

  /** Acts on a non-continue phase result; false when the exchange ended. */
  private applyResult(r: PhaseResult): boolean {
    if (r.kind === 'continue') return true;
    if (r.kind === 'local') this.sendLocal(r.response);
    else this.reset(r.reason);
    return false;
  }

  /** Connects to `ep` (one retry on another endpoint when the connect fails), sends the request, reads the answer head. */
  private connect(cluster: UpstreamCluster, ep: Endpoint, request: Buffer, head: Buffer, attempt: number): void {
    // An upgraded connection counts as a request in flight for as long as it is open.
    if (this.inFlight) this.inFlight.active--;
    ep.active++;
    this.inFlight = ep;
    this.upstreamAddr = ep.address;
    if (this.chain) this.chain.info.upstreamAddress = ep.address;
    const host = ep.model.host;
    const secure = ep.origin.startsWith('https:');
    const up = secure
      ? tls.connect({ host, port: ep.model.port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: cluster.model.tlsVerify, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host, port: ep.model.port });
    this.upstream = up;
    let connected = false;
    if (cluster.model.connectTimeoutMs > 0) {
      up.setTimeout(cluster.model.connectTimeoutMs, () => up.destroy(Object.assign(new Error('upstream connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })));
    }
    up.once(secure ? 'secureConnect' : 'connect', () => {
      connected = true;
      up.setTimeout(0);
      if (this.done) { up.destroy(); return; }
      up.write(request);
      // Client bytes flow on at once, as before a 101 they may be the body of an upgrade the
      // upstream declines (an `Upgrade: h2c` POST); a WebSocket client waits for the 101 anyway.
      if (this.chain?.wantsRequestBody && !this.requestEnded) void this.throughChain(this.socket, up, head, REQUEST);
      else {
        if (head.length) up.write(head);
        this.socket.pipe(up);
      }
      this.readHead(up, cluster);
    });
    up.on('error', (err) => {
      if (this.done || this.answered) return;
      cluster.errors++;
      this.ctx.stats.upstreamError(cluster.model.name);
      if (!connected && isConnectFailure(err)) {
        cluster.eject(ep);
        const next = attempt === 0 ? cluster.pick(ep) : undefined;
        if (next) return this.connect(cluster, next, request, head, attempt + 1);
        return this.sendSimple(503, 'upstream_connect_failure', `upstream connect error: ${err.message}`);
      }
      this.sendSimple(502, 'upstream_reset', `upstream error: ${err.message}`);
    });
    up.once('close', () => {
      if (this.upstream !== up) return;
      if (!this.answered) this.sendSimple(502, 'upstream_reset', 'upstream closed before answering the upgrade');
      // After the splice a clean end was piped through; anything else (reset) ends the client too.
      else if (this.spliced && !up.readableEnded) this.socket.destroy();
    });
  }

  /** Collects the upstream's answer head, bounded by the route's (or cluster's) request timeout. */
  private readHead(up: net.Socket, cluster: UpstreamCluster): void {
    const timeoutMs = this.route?.model.timeoutMs ?? cluster.model.requestTimeoutMs;
    const timer = timeoutMs > 0 ? setTimeout(() => {
      if (this.answered || this.done) return;
      this.ctx.stats.upstreamError(cluster.model.name);
      this.sendSimple(504, 'upstream_response_timeout', 'upstream request timeout');
      up.destroy();
    }, timeoutMs) : undefined;
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) { clearTimeout(timer); up.off('data', onData); this.badUpstream(up, 'upstream answer head too large'); }
        return;
      }
      clearTimeout(timer);
      up.off('data', onData);
      up.pause();
      const list = parseResponseHead(buf.subarray(0, end).toString('latin1'));
      if (!list) return this.badUpstream(up, 'upstream answered with a malformed head');
      this.onHead(up, list, buf.subarray(end + 4)).catch((err) => { up.destroy(); this.fail(err); });
    };
    up.on('data', onData);
    up.once('close', () => clearTimeout(timer));
  }

  private badUpstream(up: net.Socket, message: string): void {
    this.sendSimple(502, 'upstream_reset', message);
    up.destroy();
  }

  /** The upstream answered: response-header callbacks, then the splice (101) or the refusal passed on. */
  private async onHead(up: net.Socket, list: HeaderList, rest: Buffer): Promise<void> {
    const upstreamStatus = Number(list[0][1]);
    const upgraded = upstreamStatus === 101;
    let framing: string | undefined;
    let length = -1;
    if (!upgraded) {
      // A refusal is an ordinary response: framing is ours to keep, hop-by-hop headers are not the client's.
      framing = list.find(([k]) => k === 'transfer-encoding')?.[1];
      const cl = list.find(([k]) => k === 'content-length')?.[1];
      if (cl !== undefined && !framing) length = Number(cl);
      list = list.filter(([k]) => !isHopByHop(k));
    }
    const chunked = framing !== undefined && /chunked/i.test(framing);
    // A refusal's body goes through the plugins that read response bodies, as any response's does.
    const filtered = !upgraded && length !== 0 && this.chain?.wantsResponseBody === true;
    if (this.chain) {
      this.chain.info.responseCode = upstreamStatus;
      const r = await this.chain.responseHeaders(list, !upgraded && length === 0);
      if (this.done) { up.destroy(); return; }
      if (r.kind !== 'continue') { up.destroy(); this.applyResult(r); return; }
      if (r.headers) list = r.headers;
    }
    applyHeaderMods(list, this.route?.model.responseHeaders);
    const status = Number(list[0][0] === ':status' ? list[0][1] : upstreamStatus);
    // A filtered body may change length: the end of the connection ends it.
    const lines = headLines(statusLine(status), list, upgraded ? undefined
      : (k) => k === 'connection' || k === 'transfer-encoding' || (filtered && k === 'content-length'));
    if (!lines) { up.destroy(); return this.sendSimple(500, 'invalid_header', 'invalid header in the upgrade answer'); }
    if (!upgraded) {
      if (framing && !filtered) lines.push(`transfer-encoding: ${framing}`);
      lines.push('connection: close');
    }
    const socket = this.socket;
    this.status = status;
    this.answered = true;
    socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    if (upgraded) {
      this.spliced = true;
      if (this.chain?.wantsResponseBody) void this.throughChain(up, socket, rest, RESPONSE);
      else {
        if (rest.length) socket.write(rest);
        up.pipe(socket);
      }
      return;
    }
    // The refusal's body, then the client connection closes (it asked for an upgrade, not keep-alive).
    if (!filtered) return this.passBody(up, rest, length, chunked ? new ChunkedBody() : undefined, socket, () => this.closeClient());
    // Without the framing: the plugins see the payload.
    const payload = new PassThrough();
    this.passBody(up, rest, length, chunked ? new ChunkedBody((data) => payload.write(data)) : undefined, payload, () => payload.end());
    void this.throughChain(payload, socket, EMPTY, RESPONSE);
  }

  /**
   * Copies one direction of the connection through the plugins' body callbacks: `first` (bytes
   * already read), then what `from` reads until it ends, then the end of the stream. Back-pressure
   * holds `from` while a callback is pending or `to` is full. A plugin that ends the stream (a
   * local answer or a reset) after the `101` closes both connections.
   */
  private async throughChain(from: Readable, to: net.Socket, first: Uint8Array, dir: typeof REQUEST | typeof RESPONSE): Promise<void> {
    const chain = this.chain!;
    const send = async (chunk: Uint8Array, eos: boolean): Promise<boolean> => {
      const r = await (dir === REQUEST ? chain.requestData(chunk, eos) : chain.responseData(chunk, eos));
      if (this.done || to.destroyed) return false;
      if (r.kind !== 'continue') {
        if (this.answered) this.reset(r.kind === 'reset' ? r.reason : 'local response after the upgrade');
        else this.applyResult(r);
        return false;
      }
      if (r.data?.length && !to.write(r.data)) await drained(to);
      return true;
    };
    try {
      if (first.length && !(await send(first, false))) return;
      for await (const chunk of from.iterator({ destroyOnReturn: false })) if (!(await send(chunk as Buffer, false))) return;
      if (await send(EMPTY, true)) to.end();
    } catch (err) {
      if (!this.done) this.reset(`upgraded connection failed: ${(err as Error).message}`);
    }
  }

  /**
   * Copies a refusal's body to `sink` (as it came, or what a chunked body's `payload` callback
   * writes there), then calls `end`: `length` bytes, or to the end of the chunked framing, or
   * (neither) until the upstream closes. The upstream may keep its connection alive after the
   * body, so its end is found in the framing rather than waited for.
   */
  private passBody(up: net.Socket, rest: Buffer, length: number, chunked: ChunkedBody | undefined, sink: Writable, end: () => void): void {
    let left = length;
    const raw = !chunked?.payload;
    const done = () => { up.destroy(); end(); };
    /** Writes the part of `chunk` that belongs to the body; true once the body is complete. */
    const take = (chunk: Buffer): boolean => {
      let stop = -1;
      if (chunked) stop = chunked.feed(chunk);
      else if (left >= 0 && chunk.length >= left) stop = left;
      else if (left >= 0) left -= chunk.length;
      if (raw && stop !== 0) sink.write(stop > 0 ? chunk.subarray(0, stop) : chunk);
      if (stop >= 0) return true;
      if (sink.writableNeedDrain) { up.pause(); sink.once('drain', () => up.resume()); }
      return false;
    };
    if (left === 0 || take(rest)) return done();
    up.on('data', (chunk: Buffer) => { if (take(chunk)) done(); });
    up.once('end', end);
    up.resume();
  }

  /** A plugin's local answer. (The chain already ran the earlier plugins' response callbacks.) */
  private sendLocal(lr: LocalResponse): void {
    this.detail = lr.details || 'local_response';
    const skip = (k: string) => k === 'content-length' || k === 'connection' || k === 'transfer-encoding';
    const lines = headLines(statusLine(lr.status), lr.headers, skip);
    if (!lines) return this.sendSimple(500, 'invalid_header', 'invalid header in a plugin\'s local response');
    if (lr.grpcStatus >= 0) lines.push(`grpc-status: ${lr.grpcStatus}`);
    if (findHeader(lr.headers, 'x-request-id') < 0) lines.push(`x-request-id: ${this.requestId}`);
    this.answer(lr.status, lines, lr.body);
  }

  /** A gateway-made answer; `direct` (a route's fixed answer) leaves out x-gateway-detail and may carry a Location. */
  private sendSimple(status: number, detail: string, body: string, direct?: { location?: string }): void {
    this.detail = detail;
    const lines = [statusLine(status), 'content-type: text/plain', `x-request-id: ${this.requestId}`];
    if (!direct) lines.push(`x-gateway-detail: ${detail}`);
    else if (direct.location) lines.push(`location: ${direct.location}`);
    this.answer(status, lines, Buffer.from(body));
  }

  /** Writes a complete HTTP/1.1 answer and closes the client connection. */
  private answer(status: number, lines: string[], body: Uint8Array): void {
    if (this.answered || this.done) return;
    this.answered = true;
    this.status = status;
    this.upstream?.destroy();
    lines.push(`content-length: ${body.length}`, 'connection: close');
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    if (body.length) this.socket.write(body);
    this.closeClient();
  }

  /**
   * Ends the client connection after what was written. Unread input is drained first: closing a
   * socket with unread bytes sends a TCP reset, which can destroy the answer before the client reads it.
   */
  private closeClient(): void {
    const s = this.socket;
    s.resume();
    s.end();
    s.once('end', () => s.destroy());
    setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
  }

  private reset(reason: string): void {
    this.detail = reason;
    this.upstream?.destroy();
    this.socket.destroy();
  }

  fail(err: unknown): void {
    if (this.done) return;
    if (this.answered) { this.reset('gateway_error'); return; }
    this.sendSimple(500, 'gateway_error', `gateway error: ${(err as Error)?.message ?? err}`);
  }

  /** Once, when the client connection closes: plugin stream end, stats, access log, snapshot release. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.inFlight) this.inFlight.active--;
    this.upstream?.destroy();
    recordStreamEnd(this.ctx, {
      chain: this.chain,
      status: this.status,
      completed: true,
      detail: this.detail,
      start: this.start,
      requestId: this.requestId,
      route: this.routeName,
      cluster: this.clusterName,
      upstream: this.upstreamAddr,
      method: this.req.method ?? '',
      authority: this.authority,
      path: this.req.url ?? '',
      protocol: 'HTTP/1.1',
      client: this.conn.remoteAddress,
    });
    this.snap.release();
  }
}
