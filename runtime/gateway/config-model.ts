/**
 * The gateway's compiled configuration: plain, serializable data (it crosses the IPC channel to
 * worker processes). Kubernetes manifests and the native form both become this model; the data
 * plane builds its immutable snapshot from it.
 */
import type { FailStrategy } from '../host/types.js';
import type { ConfigLocation } from './errors.js';

/** Upstream protocol. `grpc` is h2c, `grpcs` is h2 over TLS. */
export type UpstreamProtocol = 'http' | 'https' | 'h2c' | 'h2' | 'grpc' | 'grpcs';

export interface ModelEndpoint {
  host: string;
  port: number;
  /** Relative weight inside the cluster; default 1. */
  weight: number;
}

/** One upstream cluster, named as Envoy/Higress name it: `outbound|<port>||<fqdn>`. */
export interface ModelCluster {
  name: string;
  fqdn: string;
  port: number;
  protocol: UpstreamProtocol;
  endpoints: ModelEndpoint[];
  /** TCP connect timeout; default 5000 ms. */
  connectTimeoutMs: number;
  /** Time to wait for response headers; default 15000 ms (0 = none). */
  requestTimeoutMs: number;
  /** Idle keep-alive connection lifetime; default 60000 ms. */
  idleTimeoutMs: number;
  /** Verify upstream TLS certificates; default true. */
  tlsVerify: boolean;
  /** How an endpoint is chosen; default weighted round-robin. */
  loadBalancer?: ModelLoadBalancer;
  source?: ConfigLocation;
}

/**
 * A cluster's endpoint choice (Ingress `load-balance`, `upstream-hash-by`, `affinity: cookie`;
 * native `loadBalancer`), as Envoy's load balancers make it.
 */
export interface ModelLoadBalancer {
  /** `round_robin` (weighted), `least_request` (fewest requests in flight), `random`. */
  policy: 'round_robin' | 'least_request' | 'random';
  /**
   * Consistent hashing on one request attribute: requests with the same key go to the same
   * endpoint while the endpoints stay the same. A request without the key is balanced by `policy`.
   */
  hash?: {
    /** A request header (`:path` and `:authority` included). */
    header?: string;
    query?: string;
    sourceIp?: boolean;
    /** A cookie; a request without it gets one (Set-Cookie) naming the endpoint it went to. */
    cookie?: { name: string; path: string; ttlSeconds: number };
  };
}

export type StringMatchType = 'Exact' | 'Prefix' | 'RegularExpression';
/** `Prefix` only from Higress's `prefix-match-*` annotations. */
export interface ModelHeaderMatch { name: string; type: 'Exact' | 'Prefix' | 'RegularExpression'; value: string; invert?: boolean }
export interface ModelQueryMatch { name: string; type: 'Exact' | 'Prefix' | 'RegularExpression'; value: string }

export interface WeightedCluster { cluster: string; weight: number }

export interface ModelRewrite {
  /** Replace the matched path prefix with this (Prefix routes). */
  prefix?: string;
  /** Replace the whole path (query kept). */
  fullPath?: string;
  /** Regex substitution on the path (`rewrite-target` with regex paths): `$1`.. groups. */
  regex?: { pattern: string; substitution: string };
  host?: string;
}

export interface ModelHeaderMods {
  set?: Array<[string, string]>;
  add?: Array<[string, string]>;
  remove?: string[];
}

/** A canary split attached to a route (from nginx canary annotations). */
export interface ModelCanary {
  /** Request header deciding the canary: `always` → canary, `never` → primary, or equal to `value`. */
  header?: string;
  headerValue?: string;
  headerPattern?: string;
  /** Cookie deciding the canary (after the header): `always` → canary, `never` → primary. */
  cookie?: string;
  /** Percent (0–100) of the remaining traffic sent to the canary. */
  weight: number;
  backends: WeightedCluster[];
  rewrite?: ModelRewrite;
}

export interface ModelRoute {
  /** Higress route name `<namespace>/<name>`. */
  name: string;
  /** Host names; `*.a.com` wildcards allowed; empty = any host. */
  hosts: string[];
  path: { type: StringMatchType; value: string };
  /** The route matches these methods only; absent: any method. */
  methods?: string[];
  headers: ModelHeaderMatch[];
  query: ModelQueryMatch[];
  backends: WeightedCluster[];
  canary?: ModelCanary;
  rewrite?: ModelRewrite;
  requestHeaders?: ModelHeaderMods;
  responseHeaders?: ModelHeaderMods;
  /**
   * The route's timeout, as Envoy's: from the end of the request to the end of the response,
   * across retries; `504` when the answer has not started by then, else the stream is reset.
   * Absent: the cluster's `requestTimeoutMs` bounds the wait for each answer's head.
   */
  timeoutMs?: number;
  /** Retries (HTTPRoute `retry`, Ingress `proxy-next-upstream*`, native `retry`); without it, one retry on a connect failure. */
  retry?: ModelRetry;
  /** Fixed response instead of proxying (native `direct`), e.g. for health routes. */
  direct?: { status: number; body: string; location?: string };
  /** A redirect built from each request instead of proxying (HTTPRoute `RequestRedirect`). */
  redirect?: ModelRedirect;
  /** A copy of each request (a share of them) goes to this HTTP/1.1 cluster; its answers are dropped (HTTPRoute `RequestMirror`). */
  mirror?: { cluster: string; percent: number };
  /** CORS (Ingress `enable-cors`, HTTPRoute `CORS` filter). */
  cors?: ModelCors;
  /** Client address ranges (CIDR or single addresses) allowed on the route; others get 403 (Ingress `whitelist-source-range`). */
  allowSources?: string[];
  source?: ConfigLocation;
}

/**
 * A route's retry policy, applied as Envoy's router applies one: below the plugins (they see only
 * the answer that is passed on), on another endpoint when the cluster has one.
 */
export interface ModelRetry {
  /** Retries after the first try; 0 turns off even the retry on a connect failure. */
  attempts: number;
  /** Upstream answers with these statuses are retried (the last one is passed on). */
  statuses: number[];
  /** Every 5xx answer is retried (Envoy `5xx`). */
  any5xx: boolean;
  /** A reset or a timeout before the answer's head is retried too; a connect failure always is. */
  onReset: boolean;
  /** Retry n waits a random time below backoffMs × 2^(n-1) (Envoy's jittered back-off; default 25 ms). */
  backoffMs: number;
  /** Time each try's answer head has to arrive; default the route's timeout. */
  perTryTimeoutMs?: number;
}

/** Envoy's default retry back-off base (`retry_back_off.base_interval`). */
export const RETRY_BACKOFF_MS = 25;

/**
 * A retry policy from Envoy `retry_on` conditions: `connect-failure` (a connect failure is always
 * retried), `reset`, `5xx`, `gateway-error`, or status codes.
 */
export function retryPolicy(attempts: number, on: ReadonlyArray<string | number>, backoffMs = RETRY_BACKOFF_MS, perTryTimeoutMs?: number): ModelRetry {
  const r: ModelRetry = { attempts, statuses: [], any5xx: false, onReset: false, backoffMs, perTryTimeoutMs };
  for (const c of on) {
    if (typeof c === 'number') r.statuses.push(c);
    else if (c === '5xx') r.any5xx = r.onReset = true;
    else if (c === 'gateway-error') { r.statuses.push(502, 503, 504); r.onReset = true; }
    else if (c === 'reset') r.onReset = true;
  }
  return r;
}

/** A route's CORS policy, with ingress-nginx's defaults filled in by the loader. */
export interface ModelCors {
  /** Allowed origins: `*`, exact origins, or `scheme://*.domain` for its subdomains. */
  allowOrigins: string[];
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  allowCredentials: boolean;
  maxAgeSeconds: number;
}

/** HTTPRoute `RequestRedirect`: what replaces the request's scheme, host, port and path in `Location`. */
export interface ModelRedirect {
  /** 301, 302 (the default), 303, 307 or 308. */
  status: number;
  scheme?: string;
  hostname?: string;
  port?: number;
  /** `fullPath` or `prefix` (the matched path prefix replaced), as URLRewrite's; the query is kept. */
  path?: ModelRewrite;
  /** Only requests that came over plain HTTP are redirected; TLS ones are proxied (Ingress `ssl-redirect`). */
  plainOnly?: boolean;
}

export type PluginPhase = 'AUTHN' | 'AUTHZ' | 'STATS' | 'UNSPECIFIED_PHASE';

export interface ModelPlugin {
  /** Unique id in this config (`<namespace>/<name>` of the WasmPlugin or the native name). */
  id: string;
  /** Root id (`pluginName`). */
  pluginName: string;
  url: string;
  sha256?: string;
  pullPolicy: 'IfNotPresent' | 'Always';
  phase: PluginPhase;
  priority: number;
  failStrategy: FailStrategy;
  /** JSON text handed to `on_configure` (with `_rules_` as Higress writes it). */
  configuration: string;
  vmEnv: Record<string, string>;
  /** Quick applicability: does a global config exist, and which routes/domains/services have rules. */
  scope: { global: boolean; routes: string[]; domains: string[]; services: string[]; routePrefixes: string[] };
  /** Filled by the control plane after fetching. */
  wasm?: Uint8Array;
  digest?: string;
  source?: ConfigLocation;
}

export interface ModelCertificate { hosts: string[]; cert: string; key: string }

export interface ModelListener {
  name: string;
  address: string;
  port: number;
  /** PEM certificates (contents, not paths); the first one is the default. Missing = plain h1+h2c. */
  tls?: ModelCertificate[];
  /** Copied from {@link ModelSettings.headersTimeoutMs}; missing = the default 60000 ms. */
  headersTimeoutMs?: number;
  /** Copied from {@link ModelSettings.idleTimeoutMs}; missing = the default 65000 ms. */
  idleTimeoutMs?: number;
  /** Copied from {@link ModelSettings.maxRequestHeadersBytes}; missing = the default 60 KiB. */
  maxRequestHeadersBytes?: number;
  /** Copied from {@link ModelSettings.http2}; missing = the default (Higress's). */
  http2?: ModelHttp2;
}

/** Client-side HTTP/2 settings (Higress's `downstream.http2`). */
export interface ModelHttp2 {
  maxConcurrentStreams: number;
  initialStreamWindowSize: number;
  initialConnectionWindowSize: number;
}



/**
 * Response compression, as Higress's global `gzip` setting configures Envoy's compressor filter:
 * a response of one of `contentTypes`, at least `minContentLength` bytes (or of unknown length),
 * to a client that accepts gzip, is compressed after the plugins ran.
 */
export interface ModelGzip {
  minContentLength: number;
  /** Media types (lower-case, without parameters). */
  contentTypes: string[];
  /** A response with an ETag is not compressed (else a strong ETag is dropped, a weak one kept). */
  disableOnEtag: boolean;
  /** zlib parameters. */
  level: number;
  memLevel: number;
  windowBits: number;
  chunkSize: number;
  strategy: number;
}

/** Higress's default (its Helm chart and its code agree): on, for text types of 1 KiB and more. */
export const DEFAULT_GZIP: ModelGzip = {
  minContentLength: 1024,
  contentTypes: ['text/html', 'text/css', 'text/plain', 'text/xml', 'application/json', 'application/javascript', 'application/xhtml+xml', 'image/svg+xml'],
  disableOnEtag: true,
  level: 9,
  memLevel: 5,
  windowBits: 12,
  chunkSize: 4096,
  strategy: 0,
};

export interface ModelSettings {
  /** Bytes a plugin may make the gateway buffer per body; default 10 MiB. */
  bodyBufferLimitBytes: number;
  /** `stdout` (default), `off`, or a file path. */
  accessLog: string;
  /** Add a `via` header; default false. */
  via: boolean;
  /** Add `x-real-ip` (the client address) to upstream requests; default false (Higress's `addXRealIpHeader`). */
  addXRealIp: boolean;
  /** Response compression; undefined = off. Default {@link DEFAULT_GZIP}, as in Higress. */
  gzip: ModelGzip | undefined;
  /** Watchdog limit for a blocked worker event loop; default 3000 ms. */
  watchdogMs: number;
  /** Plugin memory limit; default 256 MiB. */
  pluginMemoryLimitBytes: number;
  /** Lowest plugin log level written: trace, debug, info (default), warn, error, critical. */
  pluginLogLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical';
  /**
   * Time a client has to send a complete request head, counted from the connection (so it
   * includes the first byte and the TLS handshake); then 408 or close. Default 60000 ms.
   */
  headersTimeoutMs: number;
  /** Time an idle client connection (keep-alive h1, h2/h2c session without activity) stays open; default 65000 ms. */
  idleTimeoutMs: number;
  /** Largest request head a client may send (431 beyond, on HTTP/2 a reset); default 60 KiB, Higress's `maxRequestHeadersKb`. */
  maxRequestHeadersBytes: number;
  /** Client-side HTTP/2 settings; default Higress's: 100 streams, 64 KiB stream and 1 MiB connection windows (Node alone: unlimited streams, a 64 KiB connection window). */
  http2: ModelHttp2;
}

/** The whole configuration. */
export interface ConfigModel {
  listeners: ModelListener[];
  clusters: ModelCluster[];
  routes: ModelRoute[];
  plugins: ModelPlugin[];
  settings: ModelSettings;
  admin: { address: string; port: number };
  /** Files the model was read from (for the watcher and `/config_dump`). */
  files: string[];
  version: number;
}

/** `outbound|<port>||<fqdn>` */
export function clusterName(port: number, fqdn: string): string {
  return `outbound|${port}||${fqdn}`;
}

export const DEFAULT_SETTINGS: ModelSettings = {
  bodyBufferLimitBytes: 10 * 1024 * 1024,
  accessLog: 'stdout',
  via: false,
  addXRealIp: false,
  gzip: DEFAULT_GZIP,
  watchdogMs: 3000,
  pluginMemoryLimitBytes: 256 * 1024 * 1024,
  pluginLogLevel: 'info',
  headersTimeoutMs: 60_000,
  idleTimeoutMs: 65_000,
  maxRequestHeadersBytes: 60 * 1024,
  http2: { maxConcurrentStreams: 100, initialStreamWindowSize: 65535, initialConnectionWindowSize: 1048576 },
};
