/**
 * Upstream clusters: endpoints chosen by smooth weighted round-robin, least requests in flight,
 * random choice or consistent hashing; passive ejection of endpoints that refuse connections;
 * one keep-alive connection pool per endpoint (undici `Pool` for HTTP/1.1, a shared
 * `node:http2` session for h2/h2c/gRPC).
 */
import { Pool } from 'undici';
import http2 from 'node:http2';
import type { ModelCluster, ModelEndpoint } from './config-model.js';

/** How long an endpoint that refused a connection is left out. */
const EJECT_MS = 5000;

/** One upstream endpoint and its connection pool. */
export class Endpoint {
  readonly model: ModelEndpoint;
  readonly origin: string;
  readonly address: string;
  private pool?: Pool;
  private session?: http2.ClientHttp2Session;
  ejectedUntil = 0;
  private readonly sessionErrors = new WeakMap<http2.ClientHttp2Session, Error>();
  /** Smooth WRR state. */
  current = 0;
  /** Requests in flight to this endpoint (least-request balancing). */
  active = 0;
  /** A stable name for the endpoint in an affinity cookie: a hash of its address. */
  readonly id: string;

  constructor(model: ModelEndpoint, private readonly cluster: ModelCluster) {
    this.model = model;
    const tls = cluster.protocol === 'https' || cluster.protocol === 'h2' || cluster.protocol === 'grpcs';
    const host = model.host.includes(':') && !model.host.startsWith('[') ? `[${model.host}]` : model.host;
    this.origin = `${tls ? 'https' : 'http'}://${host}:${model.port}`;
    this.address = `${host}:${model.port}`;
    this.id = fnv1a(this.address).toString(16).padStart(8, '0');
  }

  /** True for h2, h2c and gRPC clusters. */
  get http2(): boolean {
    const p = this.cluster.protocol;
    return p === 'h2' || p === 'h2c' || p === 'grpc' || p === 'grpcs';
  }

  /** The undici pool (HTTP/1.1 clusters). */
  h1(): Pool {
    if (!this.pool) {
      this.pool = new Pool(this.origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: this.cluster.idleTimeoutMs,
        keepAliveMaxTimeout: this.cluster.idleTimeoutMs,
        headersTimeout: this.cluster.requestTimeoutMs,
        bodyTimeout: 0,
        connect: { timeout: this.cluster.connectTimeoutMs, rejectUnauthorized: this.cluster.tlsVerify },
      });
    }
    return this.pool;
  }

  /** A connected (or connecting) HTTP/2 session; replaced when it closes or errs. */
  h2(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const session = http2.connect(this.origin, { rejectUnauthorized: this.cluster.tlsVerify } as http2.SecureClientSessionOptions);
    session.on('error', (err) => { this.sessionErrors.set(session, err); });
    session.on('close', () => { if (this.session === session) this.session = undefined; });
    session.on('goaway', () => { if (this.session === session) this.session = undefined; });
    session.setTimeout(this.cluster.idleTimeoutMs, () => session.close());
    this.session = session;
    return session;
  }

  /** The error that kept a session from connecting, if that is what happened. */
  h2ConnectError(session: http2.ClientHttp2Session): Error | undefined {
    const err = this.sessionErrors.get(session);
    return err && isConnectFailure(err) ? err : undefined;
  }

  /** Closes pools and sessions (after in-flight requests end). */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    this.session?.close();
    this.session = undefined;
    if (p) await p.close().catch(() => undefined);
  }
}

/** A cluster's endpoints and load balancing. */
export class UpstreamCluster {
  readonly model: ModelCluster;
  readonly endpoints: Endpoint[];
  private readonly totalWeight: number;
  /** Upstream error count (connect failures, resets, timeouts), for stats. */
  errors = 0;

  constructor(model: ModelCluster) {
    this.model = model;
    this.endpoints = model.endpoints.map((e) => new Endpoint(e, model));
    this.totalWeight = model.endpoints.reduce((a, e) => a + e.weight, 0);
  }

  /**
   * The endpoint for a request, among those not ejected (all of them when every endpoint is
   * ejected, so a cluster never goes dark on a passive signal alone): by `hashKey` when there is
   * one (the endpoint whose {@link Endpoint.id} it is, else rendezvous hashing), else by the
   * cluster's policy. `exclude` skips one endpoint (the one that just failed, for a retry).
   */
  pick(exclude?: Endpoint, hashKey?: string): Endpoint | undefined {
    const list = this.endpoints;
    if (list.length === 1) return list[0] === exclude ? undefined : list[0];
    const policy = this.model.loadBalancer?.policy;
    // Pass 1 leaves out endpoints ejected until after `now`; pass 2 takes them too.
    for (let pass = 0, now = Date.now(); pass < 2; pass++, now = Infinity) {
      const best = hashKey !== undefined ? byHash(list, exclude, now, hashKey)
        : policy === 'least_request' ? this.leastActive(exclude, now)
        : policy === 'random' ? randomWeighted(list, exclude, now)
        : this.roundRobin(exclude, now);
      if (best) return best;
    }
    return undefined;
  }

  /** Smooth weighted round-robin over the endpoints that are not `exclude` nor ejected after `now`. */
  private roundRobin(exclude: Endpoint | undefined, now: number): Endpoint | undefined {
    let best: Endpoint | undefined;
    let total = 0;
    for (const e of this.endpoints) {
      if (e === exclude || e.ejectedUntil > now) continue;
      e.current += e.model.weight;
      total += e.model.weight;
      if (!best || e.current > best.current) best = e;
    }
    if (best) best.current -= total || this.totalWeight;
    return best;
  }

  /** Where the next least-request scan starts, so that ties take turns. */
  private nextStart = 0;

  /** The endpoint with the fewest requests in flight for its weight (ties take turns). */
  private leastActive(exclude: Endpoint | undefined, now: number): Endpoint | undefined {
    const list = this.endpoints;
    const n = list.length;
    const start = this.nextStart++ % n;
    let best: Endpoint | undefined;
    for (let i = 0; i < n; i++) {
      const e = list[(start + i) % n];
      if (e === exclude || e.ejectedUntil > now) continue;
      if (!best || e.active / e.model.weight < best.active / best.model.weight) best = e;
    }
    return best;
  }

  /** Passive ejection: an endpoint refused a connection. */
  eject(e: Endpoint): void {
    if (this.endpoints.length > 1) e.ejectedUntil = Date.now() + EJECT_MS;
  }

  async close(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.close()));
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The endpoint named by `key` (an affinity cookie), else weighted rendezvous hashing of `key`. */
function byHash(list: Endpoint[], exclude: Endpoint | undefined, now: number, key: string): Endpoint | undefined {
  let best: Endpoint | undefined;
  let bestScore = -Infinity;
  for (const e of list) {
    if (e === exclude || e.ejectedUntil > now) continue;
    if (e.id === key) return e;
    // Highest random weight: weight / -ln(u), u uniform in (0, 1) from the hash of key and endpoint.
    const u = (fnv1a(`${key}\u0000${e.address}`) + 0.5) / 4294967296;
    const score = e.model.weight / -Math.log(u);
    if (score > bestScore) { best = e; bestScore = score; }
  }
  return best;
}

/** A random endpoint, by weight. */
function randomWeighted(list: Endpoint[], exclude: Endpoint | undefined, now: number): Endpoint | undefined {
  let total = 0;
  for (const e of list) if (e !== exclude && e.ejectedUntil <= now) total += e.model.weight;
  let n = Math.random() * total;
  for (const e of list) {
    if (e === exclude || e.ejectedUntil > now) continue;
    n -= e.model.weight;
    if (n < 0) return e;
  }
  return undefined;
}

/** Errors that mean "never reached the endpoint": safe to retry elsewhere, and a reason to eject. */
export function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EHOSTUNREACH' ||
    code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNRESET_BEFORE_SEND' || code === 'ENETUNREACH';
}
