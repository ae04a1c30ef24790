/**
 * The data path: one request from a downstream (HTTP/1.1 or HTTP/2 compat API) through the
 * router, the plugin chain and an upstream pool, back to the client. Bodies stream with
 * back-pressure both ways unless a plugin asks for them.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, ClientHttp2Stream, IncomingHttpHeaders as H2Headers } from 'node:http2';
import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { HeaderList, LocalResponse, PhaseResult, StreamInfo } from '../host/types.js';
import type { AccessLog } from './access-log.js';
import { addForwardedHeaders, findHeader, isHopByHop, removeHeader, requestHeaderList, responseHeaderList, setHeader, toHeaderObject } from './proxy-headers.js';
import { chooseCluster, hostOf, rewritePath, type CompiledRoute } from './router.js';
import type { ChainLike, Snapshot } from './snapshot.js';
import type { GatewayStats } from './stats.js';
import { isConnectFailure, type Endpoint, type UpstreamCluster } from './upstream-pool.js';
import type { ModelHeaderMods } from './config-model.js';

/** Facts about the downstream connection. */
export interface ConnInfo {
  id: number;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  tls: boolean;
  sni?: string;
}

export type DownReq = IncomingMessage | Http2ServerRequest;
export type DownRes = ServerResponse | Http2ServerResponse;

/** What the proxy reads from the gateway on each request. */
export interface ProxyContext {
  snapshot(): Snapshot;
  stats: GatewayStats;
  accessLog: AccessLog;
}

/** The host's synchronous phase variants (FilterChain has them): no promise or microtask when no plugin pauses. */
interface SyncPhases {
  requestHeadersNow?(headers: HeaderList, endOfStream: boolean): PhaseResult | Promise<PhaseResult>;
  requestDataNow?(chunk: Uint8Array, endOfStream: boolean): PhaseResult | Promise<PhaseResult>;
  responseHeadersNow?(headers: HeaderList, endOfStream: boolean): PhaseResult | Promise<PhaseResult>;
  responseDataNow?(chunk: Uint8Array, endOfStream: boolean): PhaseResult | Promise<PhaseResult>;
}
type Chain = ChainLike & SyncPhases;

/**
 * The abort handle given to undici (which takes an EventEmitter with `aborted`/`reason` as a
 * signal): an AbortController costs an AbortSignal (an EventTarget) per request on the hot path.
 * The reason is the same DOMException `AbortController.abort()` gives.
 */
class UpstreamAbort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = new DOMException('This operation was aborted', 'AbortError');
    this.emit('abort');
  }
}

const EMPTY = new Uint8Array(0);
const ignoreError = (): void => undefined;
const textEncoder = new TextEncoder();

function stripIp(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

function applyMods(list: HeaderList, mods: ModelHeaderMods | undefined): void {
  if (!mods) return;
  if (mods.remove) for (const n of mods.remove) removeHeader(list, n);
  if (mods.set) for (const [k, v] of mods.set) setHeader(list, k, v);
  if (mods.add) for (const [k, v] of mods.add) list.push([k, v]);
}

function hasRequestBody(req: DownReq): boolean {
  if (req.httpVersionMajor === 2) return !(req as Http2ServerRequest).stream.endAfterHeaders;
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  return cl !== undefined && cl !== '0';
}

/** Handles one downstream request. Never throws; errors become 5xx responses. */
export function handleRequest(ctx: ProxyContext, req: DownReq, res: DownRes, conn: ConnInfo): void {
  const ex = new Exchange(ctx, req, res, conn);
  ex.run().catch((err) => ex.fail(err));
}

function streamFactory(data: { statusCode: number; headers: Record<string, string | string[] | undefined>; opaque: unknown }): NodeJS.WritableStream {
  return (data.opaque as Exchange).streamHead(data.statusCode, data.headers);
}

class Exchange {
  private readonly snap: Snapshot;
  private readonly start = process.hrtime.bigint();
  private route?: CompiledRoute;
  private routeName = '';
  private clusterName = '';
  private upstreamAddr = '';
  private requestId = '';
  private authority = '';
  private status = 0;
  private chain?: Chain;
  private upstreamStream?: ClientHttp2Stream;
  private upstreamBody?: Readable;
  private abort?: UpstreamAbort;
  private done = false;
  private detail?: string;
  private readonly protocol: string;

  constructor(private readonly ctx: ProxyContext, private readonly req: DownReq, private readonly res: DownRes, private readonly conn: ConnInfo) {
    this.snap = ctx.snapshot();
    this.snap.acquire();
    this.protocol = req.httpVersionMajor === 2 ? 'HTTP/2' : req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
    res.once('close', () => this.finish());
  }

  private header = (name: string): string | undefined => {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };

  async run(): Promise<void> {
    const req = this.req;
    const h = req.headers;
    const method = req.method ?? 'GET';
    const url = req.url || '/';
    this.authority = (req.httpVersionMajor === 2 ? ((h as H2Headers)[':authority'] ?? h.host) : h.host) ?? '';
    const host = hostOf(this.authority);
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const query = qi < 0 ? '' : url.slice(qi + 1);
    this.requestId = this.header('x-request-id') || randomUUID();
    const route = this.snap.router.match(host, method, path, query, this.header);
    this.route = route;
    let clusterName = '';
    let canary = false;
    if (route) {
      this.routeName = route.model.name;
      if (!route.model.direct) {
        const t = chooseCluster(route, this.header);
        clusterName = t.cluster;
        canary = t.canary;
      }
    }
    this.clusterName = clusterName;
    const scheme = this.conn.tls ? 'https' : 'http';
    let headers = requestHeaderList(req.rawHeaders, method, url, this.authority, scheme);
    const endOfStream = !hasRequestBody(req);

    const plugins = this.snap.pluginsFor(this.routeName, host, clusterName);
    if (plugins.length && this.snap.chainFactory) {
      const info: StreamInfo = {
        startTimeNs: BigInt(Date.now()) * 1_000_000n,
        requestId: this.requestId,
        protocol: this.protocol,
        sourceAddress: stripIp(this.conn.remoteAddress),
        sourcePort: this.conn.remotePort,
        destinationAddress: stripIp(this.conn.localAddress),
        destinationPort: this.conn.localPort,
        connectionId: this.conn.id,
        mtls: false,
        requestedServerName: this.conn.sni,
        routeName: this.routeName || undefined,
        clusterName: clusterName || undefined,
        listenerDirection: 2,
      };
      this.chain = this.snap.chainFactory(plugins, info);
      const chain = this.chain;
      const p = chain.requestHeadersNow ? chain.requestHeadersNow(headers, endOfStream) : chain.requestHeaders(headers, endOfStream);
      const r = p instanceof Promise ? await p : p;
      if (this.done) return;
      if (r.kind === 'local') return this.sendLocal(r.response);
      if (r.kind === 'reset') return this.reset(r.reason);
      if (r.headers) headers = r.headers;
    }

    if (!route) return this.sendSimple(404, 'route_not_found', 'no route matched');
    if (route.model.direct) return this.sendSimple(route.model.direct.status, 'direct_response', route.model.direct.body, true);
    const cluster = this.snap.clusters.get(clusterName);
    if (!cluster) return this.sendSimple(503, 'cluster_not_found', `no cluster ${clusterName}`);

    // Router-stage mutations (Envoy applies them after the HTTP filters).
    const pIdx = findHeader(headers, ':path');
    const newPath = rewritePath(route, canary, headers[pIdx][1], path);
    headers[pIdx][1] = newPath;
    const rw = canary && route.model.canary?.rewrite ? route.model.canary.rewrite : route.model.rewrite;
    if (rw?.host) headers[findHeader(headers, ':authority')][1] = rw.host;
    applyMods(headers, route.model.requestHeaders);
    addForwardedHeaders(headers, stripIp(this.conn.remoteAddress), scheme, this.authority, this.requestId, this.snap.model.settings.via, this.protocol);

    const bodyNeedsChain = !endOfStream && this.chain?.wantsRequestBody === true;
    await this.forward(cluster, headers, endOfStream, bodyNeedsChain);
  }

  /** Sends the request upstream, with one retry on another endpoint when the connect fails and the body is not yet consumed. */
  private async forward(cluster: UpstreamCluster, headers: HeaderList, endOfStream: boolean, bodyNeedsChain: boolean): Promise<void> {
    let ep: Endpoint | undefined = cluster.pick();
    if (!ep) return this.sendSimple(503, 'no_healthy_upstream', 'no endpoint');
    for (let attempt = 0; ; attempt++) {
      this.upstreamAddr = ep.address;
      if (this.chain) this.chain.info.upstreamAddress = ep.address;
      const cur: Endpoint = ep;
      try {
        if (cur.http2) await this.forwardH2(cur, headers, endOfStream, bodyNeedsChain, cluster);
        else await this.forwardH1(cur, headers, endOfStream, bodyNeedsChain, cluster);
        return;
      } catch (err) {
        if (this.done) return;
        // A plugin already answered (local reply during the body) and the upstream request was
        // aborted for it: that is not an upstream failure, and the answer must not be reset.
        if (this.res.writableEnded) return;
        // Headers Node/undici refuse to write (CR, LF, NUL, bad names), set by a plugin: not the upstream's fault.
        const invalid = (err as { code?: string }).code;
        if (invalid === 'UND_ERR_INVALID_ARG' || invalid === 'ERR_INVALID_CHAR' || invalid === 'ERR_INVALID_HTTP_TOKEN') {
          return this.sendSimple(500, 'invalid_header', `invalid header: ${(err as Error).message}`);
        }
        if (isConnectFailure(err)) {
          cluster.eject(cur);
          cluster.errors++;
          this.ctx.stats.upstreamError(cluster.model.name);
          const retryable = endOfStream || (this.req as Readable).readableDidRead === false;
          const next: Endpoint | undefined = attempt === 0 && retryable ? cluster.pick(cur) : undefined;
          if (next) { ep = next; continue; }
          return this.sendSimple(503, 'upstream_connect_failure', `upstream connect error: ${(err as Error).message}`);
        }
        this.ctx.stats.upstreamError(cluster.model.name);
        const code = (err as { code?: string }).code;
        if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'ETIMEDOUT') return this.sendSimple(504, 'upstream_response_timeout', 'upstream request timeout');
        return this.sendSimple(502, 'upstream_reset', `upstream error: ${(err as Error).message}`);
      }
    }
  }

  private requestBodySource(bodyNeedsChain: boolean): AsyncIterable<Uint8Array> | Readable {
    if (!bodyNeedsChain) return this.req as Readable;
    return this.filteredRequestBody();
  }

  /** Request body through the chain's body callbacks (the chain buffers when plugins pause). */
  private async *filteredRequestBody(): AsyncGenerator<Uint8Array> {
    const chain = this.chain!;
    for await (const chunk of this.req as AsyncIterable<Buffer>) {
      const p = chain.requestDataNow ? chain.requestDataNow(chunk, false) : chain.requestData(chunk, false);
      const r = p instanceof Promise ? await p : p;
      if (!this.handleBodyResult(r)) return;
      if (r.kind === 'continue' && r.data && r.data.length) yield r.data;
    }
    const p = chain.requestDataNow ? chain.requestDataNow(EMPTY, true) : chain.requestData(EMPTY, true);
    const r = p instanceof Promise ? await p : p;
    if (!this.handleBodyResult(r)) return;
    if (r.kind === 'continue' && r.data && r.data.length) yield r.data;
  }

  /** False when the phase ended the stream (local response or reset already handled). */
  private handleBodyResult(r: PhaseResult): boolean {
    if (r.kind === 'continue') return true;
    this.abort?.abort();
    this.upstreamStream?.close(http2.constants.NGHTTP2_CANCEL);
    if (r.kind === 'local') this.sendLocal(r.response);
    else this.reset(r.reason);
    return false;
  }

  private async forwardH1(ep: Endpoint, headers: HeaderList, endOfStream: boolean, bodyNeedsChain: boolean, cluster: UpstreamCluster): Promise<void> {
    const flat: string[] = [];
    let method = 'GET';
    let path = '/';
    for (const [k, v] of headers) {
      if (k.charCodeAt(0) === 58) {
        if (k === ':method') method = v;
        else if (k === ':path') path = v;
        else if (k === ':authority') flat.push('host', v);
        continue;
      }
      if (k === 'te') continue;
      flat.push(k, v);
    }
    this.abort = new UpstreamAbort();
    const timeout = this.route?.model.timeoutMs;
    if (!this.chain) {
      // No plugin: undici writes the body straight into the downstream response (back-pressure included).
      await ep.h1().stream({
        method: method as 'GET',
        path,
        headers: flat,
        body: endOfStream ? null : (this.req as Readable),
        signal: this.abort as unknown as AbortSignal,
        headersTimeout: timeout,
        opaque: this,
      }, streamFactory as unknown as Parameters<ReturnType<Endpoint["h1"]>["stream"]>[1]);
      return;
    }
    const r = await ep.h1().request({
      method: method as 'GET',
      path,
      headers: flat,
      body: endOfStream ? null : this.requestBodySource(bodyNeedsChain) as Readable,
      signal: this.abort as unknown as AbortSignal,
      headersTimeout: timeout,
    });
    this.upstreamBody = r.body;
    // Destroying an undici body emits 'error' (UND_ERR_ABORTED): without a listener that ends the process.
    r.body.on('error', ignoreError);
    if (this.done) { r.body.destroy(); return; }
    const respHeaders = responseHeaderList(r.statusCode, r.headers);
    const noBody = method === 'HEAD' || r.statusCode === 204 || r.statusCode === 304 || r.headers['content-length'] === '0';
    await this.respond(r.statusCode, respHeaders, r.body, noBody, () => r.trailers as Record<string, string>, cluster);
  }

  /** Response head for the no-plugin path; returns the writable undici streams the body into. */
  streamHead(status: number, upstream: Record<string, string | string[] | undefined>): NodeJS.WritableStream {
    const res = this.res as ServerResponse;
    this.status = status;
    const mods = this.route?.model.responseHeaders;
    if (mods) {
      const list = responseHeaderList(status, upstream);
      applyMods(list, mods);
      res.writeHead(status, toHeaderObject(list));
      return res;
    }
    const out: Record<string, string | string[]> = {};
    for (const k in upstream) {
      const v = upstream[k];
      if (v !== undefined && !isHopByHop(k)) out[k] = v;
    }
    res.writeHead(status, out);
    return res;
  }

  private forwardH2(ep: Endpoint, headers: HeaderList, endOfStream: boolean, bodyNeedsChain: boolean, cluster: UpstreamCluster): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const session = ep.h2();
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of headers) {
        if (k === ':scheme') { out[k] = ep.origin.startsWith('https') ? 'https' : 'http'; continue; }
        const prev = out[k];
        if (prev === undefined) out[k] = v;
        else if (typeof prev === 'string') out[k] = [prev, v];
        else prev.push(v);
      }
      let stream: ClientHttp2Stream;
      try {
        stream = session.request(out, { endStream: endOfStream });
      } catch (err) {
        reject(err);
        return;
      }
      this.upstreamStream = stream;
      let responded = false;
      let trailers: Record<string, string> | undefined;
      stream.on('trailers', (t) => { trailers = t as Record<string, string>; });
      stream.once('error', (err) => {
        if (!responded) reject(ep.h2ConnectError(session) ?? err);
        else this.reset('upstream stream error');
      });
      stream.once('response', (h, flags) => {
        responded = true;
        const status = Number(h[':status']);
        const list = responseHeaderList(status, h as Record<string, string>);
        const noBody = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        this.respond(status, list, stream, noBody, () => trailers, cluster).then(resolve, reject);
      });
      if (!endOfStream) this.pumpToH2(stream, bodyNeedsChain).catch(() => stream.close(http2.constants.NGHTTP2_CANCEL));
    });
  }

  private async pumpToH2(stream: ClientHttp2Stream, bodyNeedsChain: boolean): Promise<void> {
    if (!bodyNeedsChain) {
      const src = this.req as Readable;
      src.pipe(stream, { end: false });
      await once(src, 'end');
      const t = (this.req as IncomingMessage).trailers;
      if (t && Object.keys(t).length && !stream.destroyed) {
        stream.sendTrailers(t);
      } else stream.end();
      return;
    }
    for await (const chunk of this.filteredRequestBody()) {
      if (!stream.write(chunk)) await once(stream, 'drain');
    }
    if (!this.done) stream.end();
  }

  /** Passes the upstream response through the chain (if any) to the client. */
  private async respond(status: number, headers: HeaderList, body: Readable, noBody: boolean, getTrailers: () => Record<string, string> | undefined, cluster: UpstreamCluster): Promise<void> {
    const chain = this.chain;
    if (chain) {
      chain.info.responseCode = status;
      const p = chain.responseHeadersNow ? chain.responseHeadersNow(headers, noBody) : chain.responseHeaders(headers, noBody);
      const r = p instanceof Promise ? await p : p;
      if (this.done) { body.destroy(); return; }
      if (r.kind === 'local') { body.destroy(); return this.sendLocal(r.response); }
      if (r.kind === 'reset') { body.destroy(); return this.reset(r.reason); }
      if (r.headers) headers = r.headers;
    }
    applyMods(headers, this.route?.model.responseHeaders);
    const st = Number(headers[0][0] === ':status' ? headers[0][1] : status);
    this.status = st;
    const res = this.res as ServerResponse;
    res.writeHead(st, toHeaderObject(headers));
    if (!chain?.wantsResponseBody) {
      body.pipe(res as NodeJS.WritableStream, { end: false });
      await once(body, 'end');
      const t = getTrailers();
      if (chain && t && Object.keys(t).length) {
        const r = await chain.responseTrailers(Object.entries(t));
        if (r.kind === 'continue' && r.headers) return this.endWithTrailers(Object.fromEntries(r.headers));
      }
      return this.endWithTrailers(t);
    }
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const p = chain.responseDataNow ? chain.responseDataNow(chunk, false) : chain.responseData(chunk, false);
      const r = p instanceof Promise ? await p : p;
      if (this.done) return;
      if (r.kind !== 'continue') return this.reset(r.kind === 'reset' ? r.reason : 'local response after headers');
      if (r.data && r.data.length && !res.write(r.data)) await once(res, 'drain');
    }
    const p = chain.responseDataNow ? chain.responseDataNow(EMPTY, true) : chain.responseData(EMPTY, true);
    const r = p instanceof Promise ? await p : p;
    if (this.done) return;
    if (r.kind !== 'continue') return this.reset('response body rejected');
    if (r.data && r.data.length) res.write(r.data);
    let t = getTrailers();
    if (t && Object.keys(t).length) {
      const tr = await chain.responseTrailers(Object.entries(t));
      if (tr.kind === 'continue' && tr.headers) t = Object.fromEntries(tr.headers);
    }
    this.endWithTrailers(t);
    void cluster;
  }

  private endWithTrailers(t: Record<string, string> | undefined): void {
    if (this.done) return;
    if (t) {
      const clean: Record<string, string> = {};
      let any = false;
      for (const k in t) if (!isHopByHop(k) && k.charCodeAt(0) !== 58) { clean[k] = t[k]; any = true; }
      if (any) this.res.addTrailers(clean);
    }
    this.res.end();
  }

  /** A plugin's local response. (The chain already ran the earlier plugins' response callbacks.) */
  private sendLocal(lr: LocalResponse): void {
    if (this.done || this.res.headersSent) { this.reset('local response after headers'); return; }
    this.status = lr.status;
    this.detail = lr.details || 'local_response';
    const h = toHeaderObject(lr.headers);
    if (lr.grpcStatus >= 0) h['grpc-status'] = String(lr.grpcStatus);
    h['content-length'] = String(lr.body.length);
    if (!('x-request-id' in h)) h['x-request-id'] = this.requestId;
    this.res.writeHead(lr.status, h);
    (this.res as ServerResponse).end(lr.body.length ? Buffer.from(lr.body.buffer, lr.body.byteOffset, lr.body.length) : undefined);
    this.drainRequest();
  }

  private sendSimple(status: number, detail: string, body: string, direct = false): void {
    if (this.done) return;
    if (this.res.headersSent) { this.reset(detail); return; }
    this.status = status;
    this.detail = detail;
    const bytes = textEncoder.encode(body);
    const headers: Record<string, string> = { 'content-type': 'text/plain', 'content-length': String(bytes.length), 'x-request-id': this.requestId };
    if (!direct) headers['x-gateway-detail'] = detail;
    this.res.writeHead(status, headers);
    this.res.end(Buffer.from(bytes));
    this.drainRequest();
  }

  /** The request body is not wanted any more: read and drop it so keep-alive connections stay usable. */
  private drainRequest(): void {
    const r = this.req as Readable;
    if (!r.readableEnded) r.resume();
  }

  private reset(reason: string): void {
    this.detail = reason;
    if (!this.status) this.status = 0;
    this.abort?.abort();
    this.upstreamBody?.destroy();
    this.upstreamStream?.close(http2.constants.NGHTTP2_CANCEL);
    const res = this.res as ServerResponse & { stream?: { close(code: number): void } };
    if (this.req.httpVersionMajor === 2) (this.res as Http2ServerResponse).stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    else res.destroy();
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.sendSimple(500, 'gateway_error', `gateway error: ${(err as Error)?.message ?? err}`);
  }

  /** Called once when the downstream response closes (finished or aborted). */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    const ended = this.res.writableFinished;
    if (!ended) {
      this.abort?.abort();
      this.upstreamBody?.destroy();
      if (this.upstreamStream && !this.upstreamStream.closed) this.upstreamStream.close(http2.constants.NGHTTP2_CANCEL);
    }
    const chain = this.chain;
    if (chain) {
      chain.info.responseCode = this.status;
      if (this.detail) chain.info.responseCodeDetails = this.detail;
      try { chain.finish(); } catch { /* the host reports plugin failures itself */ }
    }
    const ms = Number(process.hrtime.bigint() - this.start) / 1e6;
    const status = ended ? this.status : 0;
    this.ctx.stats.record(this.routeName || '-', status, ms);
    if (this.ctx.accessLog.enabled) {
      this.ctx.accessLog.write({
        time: new Date().toISOString(),
        requestId: this.requestId,
        route: this.routeName,
        cluster: this.clusterName,
        upstream: this.upstreamAddr,
        method: this.req.method ?? '',
        authority: this.authority,
        path: this.req.url ?? '',
        protocol: this.protocol,
        status,
        durationMs: Math.round(ms * 1000) / 1000,
        client: stripIp(this.conn.remoteAddress),
        detail: ended ? this.detail : this.detail ?? 'downstream_reset',
      });
    }
    this.snap.release();
  }
}
