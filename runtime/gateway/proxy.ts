/**
 * The data path: one request from a downstream (HTTP/1.1 or HTTP/2 compat API) through the
 * router, the plugin chain and an upstream pool, back to the client. Bodies stream with
 * back-pressure both ways unless a plugin asks for them.
 */

import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, ClientHttp2Stream, IncomingHttpHeaders as H2Headers } from 'node:http2';
import http2 from 'node:http2';
import { PassThrough, type Readable } from 'node:stream';
import type { Gzip } from 'node:zlib';
import type { Dispatcher } from 'undici';
import type { HeaderList, LocalResponse, PhaseResult } from '../host/types.js';
import type { AccessLog } from './access-log.js';
import { addForwardedHeaders, findHeader, isHopByHop, outgoingHeaders, pairList, rawHeaderList, rawHeaderPairs, requestHeaderList, responseHeaderList, setHeader, toHeaderObject } from './proxy-headers.js';
import { chooseCluster, hostOf, requestHeader, type CompiledRoute } from './router.js';
import { applyHeaderMods, applyRouterStage, balanceKey, routeAnswer } from './router-stage.js';
import type { ModelGzip, ModelRetry } from './config-model.js';
import { acceptsGzip, compressResponse, gzipBytes, gzipStream } from './compression.js';
import type { ChainLike, Snapshot } from './snapshot.js';
import type { GatewayStats } from './stats.js';
import { newRequestId } from './request-id.js';
import { recordStreamEnd } from './stream-end.js';
import { streamInfoFor } from './stream-info.js';
import { isConnectFailure, type Endpoint, type UpstreamCluster } from './upstream-pool.js';

/** Facts about the downstream connection. */
export interface ConnInfo {
  id: number;
  /** Client address; both addresses come without the `::ffff:` prefix of IPv4 on a dual-stack socket. */
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

const EMPTY = new Uint8Array(0);
const noop = (): void => undefined;
/** Most request-body bytes kept for a retry (Envoy's default connection buffer limit). */
const RETRY_BODY_LIMIT = 1024 * 1024;
/** The reason given to undici when the gateway cancels an upstream request itself. */
const CANCELLED = new Error('cancelled by the gateway');
const textEncoder = new TextEncoder();

/** `authority` with `suffix` added to its host part (before a port), as Envoy names a shadow request's host. */
function suffixHost(authority: string, suffix: string): string {
  const colon = authority.lastIndexOf(':');
  const hasPort = colon > authority.lastIndexOf(']') && /^\d+$/.test(authority.slice(colon + 1));
  return hasPort ? `${authority.slice(0, colon)}${suffix}${authority.slice(colon)}` : authority + suffix;
}

/** A request header list as an HTTP/1.1 request: method, path, and the flat header list undici takes (`host` from `:authority`, its host part suffixed with `hostSuffix`; no `te`). */
function h1Head(headers: HeaderList, hostSuffix = ''): { method: string; path: string; flat: string[] } {
  const flat: string[] = [];
  let method = 'GET';
  let path = '/';
  for (const [k, v] of headers) {
    if (k.charCodeAt(0) === 58) {
      if (k === ':method') method = v;
      else if (k === ':path') path = v;
      else if (k === ':authority') flat.push('host', hostSuffix ? suffixHost(v, hostSuffix) : v);
      continue;
    }
    if (k === 'te') continue;
    flat.push(k, v);
  }
  return { method, path, flat };
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
  try {
    ex.run();
  } catch (err) {
    ex.fail(err);
  }
}

/** Where a response keeps its Exchange, so one shared 'close' listener serves every request (no closure or once-wrapper each). */
const EXCHANGE = Symbol('exchange');

function onResponseClose(this: DownRes & { [EXCHANGE]?: Exchange }): void {
  this[EXCHANGE]?.finish();
}

/** An upstream request in flight: what a retry on another endpoint needs. */
interface UpstreamRequest {
  cluster: UpstreamCluster;
  headers: HeaderList;
  bodyNeedsChain: boolean;
  endpoint: Endpoint;
  attempt: number;
}

class Exchange {
  private readonly snap: Snapshot;
  private readonly start = process.hrtime.bigint();
  private route?: CompiledRoute;
  private routeName = '';
  private clusterName = '';
  /** The route sent this request to its canary backends. */
  private canary = false;
  /** The request has no body. */
  private endOfStream = true;
  private upstreamAddr = '';
  private requestId = '';
  private authority = '';
  private status = 0;
  private chain?: Chain;
  private upstream?: UpstreamRequest;
  private upstreamStream?: ClientHttp2Stream;
  private abortH1?: (err?: Error) => void;
  private resumeUpstream: () => void = noop;
  /** The upstream request was cancelled by us: its errors are not upstream failures. */
  private cancelled = false;
  /** The upstream's response head arrived (and is passed on). */
  private responded = false;
  /** The current HTTP/1.1 try's answer is read and dropped: a retry follows once it ends. */
  private discarding = false;
  /** A plugin phase on the response is pending (the upstream is paused meanwhile). */
  private phasePending = false;
  private deferredEnd?: { trailers: Record<string, string> | undefined };
  /** Response body bytes still to come when the upstream gave a length and a plugin reads the body; -1 unknown. */
  private bodyLeft = -1;
  /** The plugins already saw the response body's end (with its last chunk). */
  private bodyEnded = false;
  private method = 'GET';
  /** The body of this request's mirror copy (HTTPRoute RequestMirror): the bytes undici sends upstream go here too. */
  private mirrorBody?: PassThrough;
  /** The route's CORS headers for this request's (allowed) origin, set on whatever answers it. */
  private corsHeaders?: Array<[string, string]>;
  /**
   * The request body as it went upstream, kept for a retry when the route has a retry policy, as
   * Envoy keeps it: dropped past {@link RETRY_BODY_LIMIT}.
   */
  private bodyCopy?: Uint8Array[];
  private bodyCopyBytes = 0;
  /** The whole request body went upstream once (later sends replay {@link bodyCopy}). */
  private bodySent = false;
  /** The request trailers as they went to an HTTP/2 upstream (sent again on a retry). */
  private sentTrailers?: Record<string, string>;
  /** An affinity cookie to set on the upstream's answer. */
  private setCookie?: string;
  /** The iterator reading the request body (for undici or the plugins), if there is one. */
  private bodyChunks?: AsyncIterableIterator<Buffer>;
  /** The response body's compressor, when the response is compressed. */
  private gzip?: Gzip;
  /** The route's timeout (see `forward`). */
  private routeTimer?: ReturnType<typeof setTimeout>;
  /** The endpoint this request counts as in flight to (least-request balancing). */
  private inFlight?: Endpoint;
  private done = false;
  private detail?: string;
  private readonly protocol: string;

  constructor(private readonly ctx: ProxyContext, private readonly req: DownReq, private readonly res: DownRes, private readonly conn: ConnInfo) {
    this.snap = ctx.snapshot();
    this.snap.acquire();
    this.protocol = req.httpVersionMajor === 2 ? 'HTTP/2' : req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
    (res as DownRes & { [EXCHANGE]?: Exchange })[EXCHANGE] = this;
    res.on('close', onResponseClose);
  }

  private header = (name: string): string | undefined => requestHeader(this.req, name, this.authority, this.conn.tls);

  /** Routes the request and runs the request-headers phase; the rest follows synchronously unless a plugin pauses. */
  run(): void {
    const req = this.req;
    const h = req.headers;
    const method = req.method ?? 'GET';
    const url = req.url || '/';
    this.authority = (req.httpVersionMajor === 2 ? ((h as H2Headers)[':authority'] ?? h.host) : h.host) ?? '';
    const host = hostOf(this.authority);
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const query = qi < 0 ? '' : url.slice(qi + 1);
    this.requestId = this.header('x-request-id') || newRequestId();
    const route = this.snap.router.match(host, method, path, query, this.header);
    this.route = route;
    if (route) {
      this.routeName = route.model.name;
      if (route.model.backends.length) {
        const t = chooseCluster(route, this.header);
        this.clusterName = t.cluster;
        this.canary = t.canary;
      }
    }
    if (route?.sourceAllowed && !route.sourceAllowed(this.conn.remoteAddress)) return this.sendSimple(403, 'source_not_allowed', 'client address not allowed');
    const scheme = this.conn.tls ? 'https' : 'http';
    const cors = route?.cors;
    if (cors) {
      const origin = this.header('origin');
      if (origin !== undefined && cors.allows(origin)) {
        // Envoy's CORS filter runs ahead of the plugins: it answers an allowed preflight itself.
        if (method === 'OPTIONS' && this.header('access-control-request-method') !== undefined) {
          this.corsHeaders = cors.preflightHeaders(origin);
          return this.sendSimple(200, 'cors_preflight', '', {});
        }
        this.corsHeaders = cors.responseHeaders(origin);
      }
    }
    const headers = requestHeaderList(req.rawHeaders, method, url, this.authority, scheme);
    // Added before the plugins run, as Envoy's connection manager does: plugins see them.
    addForwardedHeaders(headers, this.conn.remoteAddress, scheme, this.authority, this.requestId, this.snap.model.settings, this.protocol);
    this.endOfStream = !hasRequestBody(req);

    const plugins = this.snap.pluginsFor(this.routeName, host, this.clusterName);
    if (!plugins.length || !this.snap.chainFactory) return this.toUpstream(headers);
    const info = streamInfoFor(this.conn, { requestId: this.requestId, protocol: this.protocol, routeName: this.routeName, clusterName: this.clusterName });
    const chain: Chain = this.snap.chainFactory(plugins, info);
    this.chain = chain;
    const p = chain.requestHeadersNow ? chain.requestHeadersNow(headers, this.endOfStream) : chain.requestHeaders(headers, this.endOfStream);
    if (p instanceof Promise) p.then((r) => this.afterRequestHeaders(r, headers)).catch((err) => this.fail(err));
    else this.afterRequestHeaders(p, headers);
  }

  private afterRequestHeaders(r: PhaseResult, headers: HeaderList): void {
    if (this.done) return;
    if (r.kind === 'local') return this.sendLocal(r.response);
    if (r.kind === 'reset') return this.reset(r.reason);
    this.toUpstream(r.headers ?? headers);
  }

  /** After the plugins: the route's own answers, the router-stage changes, then the upstream. */
  private toUpstream(headers: HeaderList): void {
    const route = this.route;
    if (!route) return this.sendSimple(404, 'route_not_found', 'no route matched');
    const own = routeAnswer(headers, route, this.conn.tls, this.conn.localPort);
    if (own) return this.sendSimple(own.status, 'direct_response', own.body, own);
    const cluster = this.snap.clusters.get(this.clusterName);
    if (!cluster) return this.sendSimple(503, 'cluster_not_found', `no cluster ${this.clusterName}`);

    // A plugin may have removed what the upstream request needs (Envoy refuses such a request too).
    if (findHeader(headers, ':path') < 0 || findHeader(headers, ':method') < 0) return this.sendSimple(400, 'missing_required_header', 'missing :path or :method');
    applyRouterStage(headers, route, this.canary);

    this.forward(cluster, headers, !this.endOfStream && this.chain?.wantsRequestBody === true);
  }

  /** Sends the request upstream (retries: see `upstreamFailed` and `retriesStatus`). */
  private forward(cluster: UpstreamCluster, headers: HeaderList, bodyNeedsChain: boolean): void {
    const hash = cluster.model.loadBalancer?.hash;
    const key = hash && balanceKey(hash, headers, this.conn.remoteAddress);
    const ep = cluster.pick(undefined, key);
    if (!ep) return this.sendSimple(503, 'no_healthy_upstream', 'no endpoint');
    // Cookie affinity: a request without the cookie gets one naming the endpoint it went to.
    const cookie = hash?.cookie;
    if (cookie && key === undefined) this.setCookie = `${cookie.name}=${ep.id}; Path=${cookie.path}${cookie.ttlSeconds > 0 ? `; Max-Age=${cookie.ttlSeconds}` : ''}; HttpOnly`;
    const mirror = this.route?.model.mirror;
    if (mirror && (mirror.percent >= 100 || Math.random() * 100 < mirror.percent)) this.mirror(mirror.cluster, headers, ep.http2);
    this.upstream = { cluster, headers, bodyNeedsChain, endpoint: ep, attempt: 0 };
    if (this.route?.model.retry && !this.endOfStream) this.bodyCopy = [];
    const timeoutMs = this.route?.model.timeoutMs;
    if (timeoutMs) {
      // Envoy's route timeout: from the end of the request to the end of the response, all tries.
      const start = (): void => { if (!this.done) this.routeTimer = setTimeout(() => this.routeTimedOut(), timeoutMs); };
      if (this.endOfStream) start();
      else (this.req as Readable).once('end', start);
    }
    this.send(ep);
  }

  /**
   * Sends a copy of the request to a mirror cluster, as Envoy shadows one: the same headers with
   * `-shadow` appended to the host, the body as it goes upstream, the answer dropped. A body bound
   * for an HTTP/2 upstream is not seen here, so such a request is not mirrored; a mirror that
   * falls behind by more than the body limit is abandoned.
   */
  private mirror(clusterName: string, headers: HeaderList, mainIsH2: boolean): void {
    if (!this.endOfStream && mainIsH2) return;
    const ep = this.snap.clusters.get(clusterName)?.pick();
    if (!ep) return;
    const head = h1Head(headers, '-shadow');
    if (!this.endOfStream) this.mirrorBody = new PassThrough();
    ep.h1().request({ method: head.method as 'GET', path: head.path, headers: head.flat, body: this.mirrorBody ?? null })
      .then((r) => r.body.dump(), noop).catch(noop);
  }

  /** undici handler: a request body chunk was written upstream (on a retry: the kept copy again). */
  onBodySent(chunk: Uint8Array | string): void {
    if (this.bodySent) return;
    const copy = this.bodyCopy;
    if (copy) {
      copy.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if ((this.bodyCopyBytes += chunk.length) > Math.min(RETRY_BODY_LIMIT, this.snap.model.settings.bodyBufferLimitBytes)) this.bodyCopy = undefined;
    }
    const mb = this.mirrorBody;
    if (!mb) return;
    mb.write(chunk);
    if (mb.writableLength > this.snap.model.settings.bodyBufferLimitBytes) {
      mb.destroy();
      this.mirrorBody = undefined;
    }
  }

  /** undici handler: the whole request body was written upstream. */
  onRequestSent(): void {
    if (this.bodySent) return;
    this.bodySent = !this.endOfStream;
    this.mirrorBody?.end();
  }

  private send(ep: Endpoint): void {
    const up = this.upstream!;
    if (this.inFlight) this.inFlight.active--;
    ep.active++;
    this.inFlight = ep;
    up.endpoint = ep;
    this.upstreamAddr = ep.address;
    if (this.chain) this.chain.info.upstreamAddress = ep.address;
    try {
      if (ep.http2) this.sendH2(ep);
      else this.sendH1(ep);
    } catch (err) {
      this.upstreamFailed(err);
    }
  }

  /** The upstream request failed before its response head arrived. */
  private upstreamFailed(err: unknown): void {
    if (this.done || this.cancelled) return;
    // A plugin already answered (local reply during the body) and the upstream request was
    // cancelled for it: that is not an upstream failure, and the answer must not be reset.
    if (this.res.writableEnded) return;
    const up = this.upstream!;
    const code = (err as { code?: string }).code;
    // Headers Node/undici refuse to write (CR, LF, NUL, bad names), set by a plugin: not the upstream's fault.
    if (code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN') {
      return this.sendSimple(500, 'invalid_header', `invalid header: ${(err as Error).message}`);
    }
    this.ctx.stats.upstreamError(up.cluster.model.name);
    const policy = this.route?.model.retry;
    if (isConnectFailure(err)) {
      up.cluster.eject(up.endpoint);
      up.cluster.errors++;
      if (policy) {
        if (this.mayRetry(policy)) return this.retry(policy);
      } else if (up.attempt === 0 && this.replayable()) {
        // Without a policy: one retry, at once, on another endpoint.
        const next = up.cluster.pick(up.endpoint);
        if (next) {
          up.attempt++;
          return this.send(next);
        }
      }
      return this.sendSimple(503, 'upstream_connect_failure', `upstream connect error: ${(err as Error).message}`);
    }
    if (policy?.onReset && this.mayRetry(policy)) return this.retry(policy);
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'ETIMEDOUT') return this.sendSimple(504, 'upstream_response_timeout', 'upstream request timeout');
    this.sendSimple(502, 'upstream_reset', `upstream error: ${(err as Error).message}`);
  }

  /** The route's timeout passed: 504 when the answer has not started, else the stream is reset (as Envoy does). */
  private routeTimedOut(): void {
    if (this.done) return;
    this.ctx.stats.upstreamError(this.upstream!.cluster.model.name);
    this.cancelUpstream();
    if (this.res.headersSent) this.reset('upstream_response_timeout');
    else this.sendSimple(504, 'upstream_response_timeout', 'upstream request timeout');
  }

  /** The request can be sent again: it has no body, none of it was read yet, or all of it was kept. */
  private replayable(): boolean {
    return this.endOfStream || (this.req as Readable).readableDidRead === false || (this.bodySent && this.bodyCopy !== undefined);
  }

  /** The route's retry policy allows another try of a request that can be sent again. */
  private mayRetry(policy: ModelRetry): boolean {
    return this.upstream!.attempt < policy.attempts && this.replayable();
  }

  /** An upstream answer with this status is dropped and the request retried (route policy). */
  private retriesStatus(status: number): boolean {
    const p = this.route?.model.retry;
    return p !== undefined && ((p.any5xx && status >= 500) || p.statuses.includes(status)) && this.mayRetry(p);
  }

  /** Sends the request again after Envoy's jittered back-off, on another endpoint when there is one. */
  private retry(policy: ModelRetry): void {
    if (this.done || this.cancelled) return;
    const up = this.upstream!;
    up.attempt++;
    this.ctx.stats.upstreamRetry(up.cluster.model.name);
    const next = up.cluster.pick(up.endpoint) ?? up.endpoint;
    const resend = (): void => { if (!this.done && !this.cancelled) this.send(next); };
    setTimeout(resend, Math.random() * policy.backoffMs * 2 ** (up.attempt - 1));
  }

  /** The upstream connection broke after the response head was sent on. */
  private upstreamBroke(err: unknown): void {
    if (this.done || this.cancelled) return;
    this.ctx.stats.upstreamError(this.upstream!.cluster.model.name);
    this.reset(`upstream error: ${(err as Error).message}`);
  }

  /** Stops the upstream request (downstream gone, or a plugin answered). Idempotent. */
  private cancelUpstream(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.abortH1?.(CANCELLED);
    if (this.upstreamStream && !this.upstreamStream.closed) this.upstreamStream.close(http2.constants.NGHTTP2_CANCEL);
  }

  /**
   * The request body for undici: none, the kept copy (a retry), or the request read as it
   * arrives. Not the request stream itself: undici destroys a body it stops reading (the upstream
   * answered before the upload ended), and destroying an unfinished request destroys the client's
   * keep-alive connection. An iterator that leaves the stream alive lets {@link drainRequest}
   * discard the rest instead.
   */
  private upstreamBody(bodyNeedsChain: boolean): AsyncIterable<Uint8Array> | Buffer | null {
    if (this.endOfStream) return null;
    if (this.bodySent) return Buffer.concat(this.bodyCopy!);
    return bodyNeedsChain ? this.filteredRequestBody() : this.requestChunks();
  }

  private requestChunks(): AsyncIterableIterator<Buffer> {
    return (this.bodyChunks = (this.req as Readable).iterator({ destroyOnReturn: false }));
  }

  /** Request body through the chain's body callbacks (the chain buffers when plugins pause). */
  private async *filteredRequestBody(): AsyncGenerator<Uint8Array> {
    const chain = this.chain!;
    for await (const chunk of this.requestChunks()) {
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
    this.cancelUpstream();
    if (r.kind === 'local') this.sendLocal(r.response);
    else this.reset(r.reason);
    return false;
  }

  // --- HTTP/1.1 upstream: undici's dispatcher calls the handler methods below directly (no
  // promise, Readable or AsyncResource per request), and back-pressure is its pause/resume.

  private sendH1(ep: Endpoint): void {
    const up = this.upstream!;
    const { method, path, flat } = h1Head(up.headers);
    this.method = method;
    ep.h1().dispatch({
      method: method as 'GET',
      path,
      headers: flat,
      body: this.upstreamBody(up.bodyNeedsChain) as Readable | Buffer | null,
      // A route timeout replaces the cluster's wait for the answer head (`routeTimedOut`).
      headersTimeout: this.route?.model.retry?.perTryTimeoutMs ?? (this.route?.model.timeoutMs ? 0 : undefined),
    }, this as unknown as Dispatcher.DispatchHandler);
  }

  /** undici handler: the request is about to be written; `abort` cancels it. */
  onConnect(abort: (err?: Error) => void): void {
    this.abortH1 = abort;
    if (this.cancelled) abort(CANCELLED);
  }

  /** undici handler: the response head. Returning false pauses the upstream until `resumeUpstream`. */
  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // 1xx informational: not passed on
    if (this.retriesStatus(status)) {
      this.discarding = true;
      return true;
    }
    this.resumeUpstream = resume;
    this.responded = true;
    if (!this.chain && !this.route?.model.responseHeaders && !this.corsHeaders && !this.setCookie) return this.writeResponseHead(status, rawHeaderPairs(raw));
    const list = rawHeaderList(status, raw);
    let noBody = this.method === 'HEAD' || status === 204 || status === 304;
    if (!noBody) {
      const cl = findHeader(list, 'content-length');
      noBody = cl >= 0 && list[cl][1] === '0';
    }
    return this.upstreamHead(status, list, noBody);
  }

  /** undici handler: a response body chunk; false pauses the upstream. */
  onData(chunk: Buffer): boolean {
    if (this.discarding) return true;
    return this.upstreamData(chunk);
  }

  /** undici handler: the response ended, with trailers as raw name/value buffers. */
  onComplete(trailers: Buffer[] | null): void {
    if (this.discarding) return this.retryAfterDiscard();
    let t: Record<string, string> | undefined;
    if (trailers?.length) {
      const pairs = rawHeaderPairs(trailers);
      t = {};
      for (let i = 0; i < pairs.length; i += 2) t[pairs[i]] = pairs[i + 1];
    }
    this.upstreamEnd(t);
  }

  /** undici handler: the request failed (connect, timeout, reset, or our own cancel). */
  onError(err: Error): void {
    if (this.discarding) return this.retryAfterDiscard();
    if (this.responded) this.upstreamBroke(err);
    else this.upstreamFailed(err);
  }

  /** The dropped answer of a try ended (completely or not): the next try. */
  private retryAfterDiscard(): void {
    this.discarding = false;
    this.retry(this.route!.model.retry!);
  }

  // --- HTTP/2 upstream (h2, h2c, gRPC): a node:http2 stream feeding the same response path.

  private sendH2(ep: Endpoint): void {
    const up = this.upstream!;
    const session = ep.h2();
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of up.headers) {
      if (k === ':scheme') { out[k] = ep.origin.startsWith('https') ? 'https' : 'http'; continue; }
      const prev = out[k];
      if (prev === undefined) out[k] = v;
      else if (typeof prev === 'string') out[k] = [prev, v];
      else prev.push(v);
    }
    // Node sends trailers only from 'wantTrailers', which needs waitForTrailers. Only a chunked
    // HTTP/1.1 body or an HTTP/2 one can carry trailers; such a stream then ends with the client's
    // trailers or an empty trailer section.
    const mayHaveTrailers = !this.endOfStream && (this.req.httpVersionMajor === 2 || this.req.headers['transfer-encoding'] !== undefined);
    const stream = session.request(out, { endStream: this.endOfStream, waitForTrailers: mayHaveTrailers });
    this.upstreamStream = stream;
    // The wait for the answer's head, as undici's headersTimeout on HTTP/1.1.
    const headMs = this.route?.model.retry?.perTryTimeoutMs ?? (this.route?.model.timeoutMs ? 0 : up.cluster.model.requestTimeoutMs);
    const headTimer = headMs > 0 ? setTimeout(() => {
      if (this.upstreamStream !== stream) return;
      this.upstreamStream = undefined;
      stream.close(http2.constants.NGHTTP2_CANCEL);
      this.upstreamFailed(Object.assign(new Error('upstream answer head timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' }));
    }, headMs) : undefined;
    if (headTimer) stream.once('close', () => clearTimeout(headTimer));
    let trailers: Record<string, string> | undefined;
    stream.on('trailers', (t) => { trailers = t as Record<string, string>; });
    stream.once('error', (err) => {
      if (this.upstreamStream !== stream) return; // a try given up for a retry
      if (this.responded) this.upstreamBroke(err);
      else this.upstreamFailed(ep.h2ConnectError(session) ?? err);
    });
    stream.once('response', (h, flags) => {
      clearTimeout(headTimer);
      const status = Number(h[':status']);
      if (this.retriesStatus(status)) {
        this.upstreamStream = undefined;
        stream.close(http2.constants.NGHTTP2_CANCEL);
        return this.retry(this.route!.model.retry!);
      }
      this.responded = true;
      this.resumeUpstream = () => stream.resume();
      stream.on('data', (chunk: Buffer) => { if (!this.upstreamData(chunk)) stream.pause(); });
      stream.once('end', () => this.upstreamEnd(trailers));
      const noBody = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      if (!this.upstreamHead(status, responseHeaderList(status, h as Record<string, string>), noBody)) stream.pause();
    });
    if (this.endOfStream) return;
    if (!this.bodySent) return void this.pumpToH2(stream, up.bodyNeedsChain, mayHaveTrailers).catch(() => stream.close(http2.constants.NGHTTP2_CANCEL));
    // A retry: the kept body and trailers again.
    stream.write(Buffer.concat(this.bodyCopy!));
    if (mayHaveTrailers) stream.once('wantTrailers', () => stream.sendTrailers(this.sentTrailers ?? {}));
    stream.end();
  }

  private async pumpToH2(stream: ClientHttp2Stream, bodyNeedsChain: boolean, waitsForTrailers: boolean): Promise<void> {
    if (!bodyNeedsChain) {
      const src = this.req as Readable;
      if (this.bodyCopy) src.on('data', (chunk: Buffer) => this.onBodySent(chunk));
      src.pipe(stream, { end: false });
      await once(src, 'end');
    } else {
      for await (const chunk of this.filteredRequestBody()) {
        if (this.bodyCopy) this.onBodySent(chunk);
        if (!stream.write(chunk)) await once(stream, 'drain');
      }
    }
    if (this.done || stream.destroyed) return;
    if (waitsForTrailers) {
      const t = (this.sentTrailers = await this.requestTrailers());
      if (this.done || stream.destroyed) return;
      stream.once('wantTrailers', () => stream.sendTrailers(t ?? {}));
    }
    this.onRequestSent();
    stream.end();
  }

  /** The client's request trailers through the plugins' request-trailers phase; undefined when there are none (or a plugin ended the stream). */
  private async requestTrailers(): Promise<Record<string, string> | undefined> {
    const t = (this.req as IncomingMessage).trailers as Record<string, string> | undefined;
    if (!t || !Object.keys(t).length) return undefined;
    if (!this.chain) return t;
    const r = await this.chain.requestTrailers(Object.entries(t));
    if (r.kind !== 'continue') { this.handleBodyResult(r); return undefined; }
    return r.headers ? Object.fromEntries(r.headers) : t;
  }

  // --- The response path, whatever the upstream protocol. Each step returns false when the
  // upstream must pause: the client is slow, or a plugin phase is pending (then the phase's
  // continuation resumes it, or runs the end that arrived meanwhile).

  /** Response head through the chain's response-headers phase. */
  private upstreamHead(status: number, headers: HeaderList, noBody: boolean): boolean {
    const chain = this.chain;
    if (!chain) return this.writeResponseHead(status, headers);
    chain.info.responseCode = status;
    if (chain.wantsResponseBody && !noBody) {
      // With the length known, the last chunk goes to the plugins with end_of_stream set (as
      // Envoy's codec delivers it), instead of a separate empty end-of-stream call.
      const i = findHeader(headers, 'content-length');
      if (i >= 0) this.bodyLeft = Number(headers[i][1]);
    }
    const p = chain.responseHeadersNow ? chain.responseHeadersNow(headers, noBody) : chain.responseHeaders(headers, noBody);
    if (p instanceof Promise) {
      this.phasePending = true;
      p.then((r) => { if (this.afterResponseHeaders(r, status, headers)) this.phaseDone(); }).catch((err) => this.failAfterPhase(err));
      return false;
    }
    return this.afterResponseHeaders(p, status, headers);
  }

  private afterResponseHeaders(r: PhaseResult, status: number, headers: HeaderList): boolean {
    if (this.done) return false;
    if (r.kind === 'local') { this.cancelUpstream(); this.sendLocal(r.response); return false; }
    if (r.kind === 'reset') { this.cancelUpstream(); this.reset(r.reason); return false; }
    return this.writeResponseHead(status, r.headers ?? headers);
  }

  /**
   * Writes the response head: a header list (with `:status`) or, on the path without plugins or
   * header changes, undici's flat pairs. A response to compress starts its compressor here.
   */
  private writeResponseHead(status: number, headers: HeaderList | string[]): boolean {
    let out: HeaderList | string[] = headers;
    const gz = this.gzipWanted();
    let compress = false;
    if (typeof headers[0] !== 'string' || gz) {
      const list = typeof headers[0] === 'string' ? pairList(headers as string[]) : headers as HeaderList;
      const mods = this.route?.model.responseHeaders;
      if (mods) applyHeaderMods(list, mods);
      if (this.corsHeaders) for (const [k, v] of this.corsHeaders) setHeader(list, k, v);
      if (this.setCookie) list.push(['set-cookie', this.setCookie]);
      if (list.length && list[0][0] === ':status') status = Number(list[0][1]);
      // No body (204, 304), or a byte range of the uncompressed body (206): left as it is.
      compress = gz !== undefined && status !== 204 && status !== 304 && status !== 206 && compressResponse(list, gz);
      out = outgoingHeaders(list);
    }
    this.status = status;
    try {
      this.res.writeHead(status, out as unknown as Record<string, string>);
    } catch (err) {
      // A plugin set a header Node refuses to write (CR, LF, NUL, a bad name).
      this.cancelUpstream();
      this.sendSimple(500, 'invalid_header', `invalid header: ${(err as Error).message}`);
      return false;
    }
    if (compress) this.startGzip(gz!);
    return true;
  }

  /** A response body chunk: through the chain if a plugin reads the body, then to the client. */
  private upstreamData(chunk: Buffer): boolean {
    if (this.done) return false;
    const chain = this.chain;
    if (!chain?.wantsResponseBody) return this.write(chunk);
    const last = this.bodyLeft > 0 && (this.bodyLeft -= chunk.length) <= 0;
    if (last) this.bodyEnded = true;
    const p = chain.responseDataNow ? chain.responseDataNow(chunk, last) : chain.responseData(chunk, last);
    if (p instanceof Promise) {
      this.phasePending = true;
      p.then((r) => { if (this.afterResponseData(r)) this.phaseDone(); }).catch((err) => this.failAfterPhase(err));
      return false;
    }
    return this.afterResponseData(p);
  }

  private afterResponseData(r: PhaseResult): boolean {
    if (this.done) return false;
    if (r.kind !== 'continue') { this.cancelUpstream(); this.reset(r.kind === 'reset' ? r.reason : 'local response after headers'); return false; }
    return r.data && r.data.length ? this.write(r.data) : true;
  }

  /** The compression setting when the client accepts gzip (and the answer has a body); else undefined. */
  private gzipWanted(): ModelGzip | undefined {
    const gz = this.snap.model.settings.gzip;
    if (!gz) return undefined;
    const ae = this.req.headers['accept-encoding'];
    return ae && this.req.method !== 'HEAD' && acceptsGzip(ae) ? gz : undefined;
  }

  /** Response body bytes go through a compressor from here on; its output goes to the client with back-pressure. */
  private startGzip(gz: ModelGzip): void {
    const z = gzipStream(gz);
    const res = this.res as ServerResponse;
    z.on('data', (c: Buffer) => {
      if (!res.write(c)) {
        z.pause();
        res.once('drain', () => z.resume());
      }
    });
    z.once('end', () => res.end());
    z.once('error', (err) => this.reset(`compression failed: ${err.message}`));
    this.gzip = z;
  }

  /** Response body bytes to the client (through the compressor when there is one); false when that is full. */
  private out(chunk: Uint8Array): boolean {
    return this.gzip ? this.gzip.write(chunk) : (this.res as ServerResponse).write(chunk);
  }

  /** Writes to the client; on back-pressure the upstream pauses until the client drains. */
  private write(chunk: Uint8Array): boolean {
    if (this.out(chunk)) return true;
    (this.gzip ?? this.res).once('drain', this.resumeUpstream);
    return false;
  }

  /** The upstream response ended (with its trailers, if any). */
  private upstreamEnd(trailers: Record<string, string> | undefined): void {
    if (this.done) return;
    if (this.phasePending) { this.deferredEnd = { trailers }; return; }
    const chain = this.chain;
    if (!chain) return this.endWithTrailers(trailers);
    if (chain.wantsResponseBody && !this.bodyEnded) {
      const p = chain.responseDataNow ? chain.responseDataNow(EMPTY, true) : chain.responseData(EMPTY, true);
      if (p instanceof Promise) {
        p.then((r) => { if (this.afterLastData(r)) this.endThroughChain(trailers); }).catch((err) => this.failAfterPhase(err));
        return;
      }
      if (!this.afterLastData(p)) return;
    }
    this.endThroughChain(trailers);
  }

  private afterLastData(r: PhaseResult): boolean {
    if (this.done) return false;
    if (r.kind !== 'continue') { this.reset('response body rejected'); return false; }
    if (r.data && r.data.length) this.out(r.data);
    return true;
  }

  /** Trailers through the chain's response-trailers phase, then the end of the response. */
  private endThroughChain(trailers: Record<string, string> | undefined): void {
    if (!trailers || !Object.keys(trailers).length) return this.endWithTrailers(trailers);
    this.chain!.responseTrailers(Object.entries(trailers)).then((r) => {
      this.endWithTrailers(r.kind === 'continue' && r.headers ? Object.fromEntries(r.headers) : trailers);
    }).catch((err) => this.failAfterPhase(err));
  }

  /** A pending plugin phase finished and the stream goes on: run the end that arrived meanwhile, or resume the upstream. */
  private phaseDone(): void {
    this.phasePending = false;
    const end = this.deferredEnd;
    if (end) {
      this.deferredEnd = undefined;
      this.upstreamEnd(end.trailers);
    } else this.resumeUpstream();
  }

  private failAfterPhase(err: unknown): void {
    this.phasePending = false;
    this.cancelUpstream();
    this.fail(err);
  }

  private endWithTrailers(t: Record<string, string> | undefined): void {
    if (this.done) return;
    if (t) {
      const clean: Record<string, string> = {};
      let any = false;
      for (const k in t) if (!isHopByHop(k) && k.charCodeAt(0) !== 58) { clean[k] = t[k]; any = true; }
      if (any) this.res.addTrailers(clean);
    }
    // With a compressor, the response ends when its last bytes are out.
    if (this.gzip) this.gzip.end();
    else this.res.end();
    // An upload the upstream answered before it ended: the rest is read and dropped.
    this.drainRequest();
  }

  /** A plugin's local response. (The chain already ran the earlier plugins' response callbacks.) */
  private sendLocal(lr: LocalResponse): void {
    if (this.done || this.res.headersSent) { this.reset('local response after headers'); return; }
    this.status = lr.status;
    this.detail = lr.details || 'local_response';
    // Envoy runs a local reply through the encoder filters, its compressor included.
    let body: Uint8Array = lr.body;
    let headers = lr.headers;
    const gz = this.gzipWanted();
    if (gz && lr.status !== 204 && lr.status !== 304 && lr.status !== 206) {
      const list: HeaderList = [...headers, ['content-length', String(body.length)]];
      if (compressResponse(list, gz)) {
        headers = list;
        body = gzipBytes(body, gz);
      }
    }
    const h = toHeaderObject(headers);
    if (lr.grpcStatus >= 0) h['grpc-status'] = String(lr.grpcStatus);
    h['content-length'] = String(body.length);
    if (!('x-request-id' in h)) h['x-request-id'] = this.requestId;
    if (this.corsHeaders) for (const [k, v] of this.corsHeaders) h[k] = v;
    this.res.writeHead(lr.status, h);
    (this.res as ServerResponse).end(body.length ? Buffer.from(body.buffer, body.byteOffset, body.length) : undefined);
    this.drainRequest();
  }

  /** A gateway-made answer; `direct` (a route's fixed answer) leaves out x-gateway-detail and may carry a Location. */
  private sendSimple(status: number, detail: string, body: string, direct?: { location?: string }): void {
    if (this.done) return;
    if (this.res.headersSent) { this.reset(detail); return; }
    this.status = status;
    this.detail = detail;
    const bytes = textEncoder.encode(body);
    const headers: Record<string, string> = { 'content-type': 'text/plain', 'content-length': String(bytes.length), 'x-request-id': this.requestId };
    if (!direct) headers['x-gateway-detail'] = detail;
    else if (direct.location) headers.location = direct.location;
    if (this.corsHeaders) for (const [k, v] of this.corsHeaders) headers[k] = v;
    this.res.writeHead(status, headers);
    this.res.end(Buffer.from(bytes));
    this.drainRequest();
  }

  /** The request body is not wanted any more: read and drop it so keep-alive connections stay usable. */
  private drainRequest(): void {
    const r = this.req as Readable;
    if (r.readableEnded) return;
    // A stream with an iterator on it does not flow: end the iterator first.
    const it = this.bodyChunks;
    this.bodyChunks = undefined;
    if (!it) r.resume();
    else void it.return!().then(() => r.resume(), () => r.resume());
  }

  private reset(reason: string): void {
    this.detail = reason;
    if (!this.status) this.status = 0;
    this.cancelUpstream();
    const res = this.res as ServerResponse & { stream?: { close(code: number): void } };
    if (this.req.httpVersionMajor === 2) (this.res as Http2ServerResponse).stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    else res.destroy();
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.sendSimple(500, 'gateway_error', `gateway error: ${(err as Error)?.message ?? err}`);
  }

  /** Called when the downstream response closes (finished or aborted); runs once. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.routeTimer) clearTimeout(this.routeTimer);
    if (this.inFlight) this.inFlight.active--;
    const ended = this.res.writableFinished;
    if (!ended) {
      this.cancelUpstream();
      this.gzip?.destroy();
    }
    // A mirror copy whose body will never be complete (the request ended early) is abandoned.
    if (this.mirrorBody && !this.mirrorBody.writableEnded) this.mirrorBody.destroy();
    recordStreamEnd(this.ctx, {
      chain: this.chain,
      status: this.status,
      completed: ended,
      detail: this.detail,
      start: this.start,
      requestId: this.requestId,
      route: this.routeName,
      cluster: this.clusterName,
      upstream: this.upstreamAddr,
      method: this.req.method ?? '',
      authority: this.authority,
      path: this.req.url ?? '',
      protocol: this.protocol,
      client: this.conn.remoteAddress,
    });
    this.snap.release();
  }
}
