/**
 * The gateway's side of the plugin host (runtime/host): compiles modules once per digest,
 * creates configured Plugin instances with the gateway's HostEnvironment (logs, http_call and
 * gRPC calls and streams to known clusters, shared data and metrics per process), and builds
 * FilterChains per stream.
 */
import { request as undiciRequest } from 'undici';
import type {
  GrpcCallRequest, GrpcCallResponse, GrpcStreamEvents, GrpcStreamHandle, GrpcStreamRequest, HostEnvironment, HttpCallRequest, HttpCallResponse, MetricStore, SharedState, StreamInfo,
} from '../host/types.js';
import { MetricRegistry } from '../host/metric-registry.js';
import { InMemorySharedState } from '../host/shared-state.js';
import { GrpcStatus, LogLevel, enumName } from '../../spec/index.js';
import type { ModelPlugin, ModelSettings } from './config-model.js';
import { ConfigError, CONFIG_CODES } from './errors.js';
import type { ChainFactory, ChainLike, PluginLike } from './snapshot.js';
import type { UpstreamCluster } from './upstream-pool.js';
import { grpcStream, grpcUnary } from './grpc-client.js';
import { headerListOf } from './proxy-headers.js';

interface HostModule {
  PluginModule: { compile(bytes: Uint8Array, source?: string): Promise<unknown> };
  Plugin: { create(module: unknown, options: Record<string, unknown>): Promise<PluginLike> };
  FilterChain: new (plugins: PluginLike[], info: StreamInfo) => ChainLike;
}

let hostModule: Promise<HostModule | undefined> | undefined;

/** Loads runtime/host lazily (it is built in parallel with the gateway; until then plugins cannot run). */
export function loadHost(): Promise<HostModule | undefined> {
  hostModule ??= (async () => {
    try {
      const spec = '../host/index.js';
      const m = (await import(spec)) as Partial<HostModule>;
      return m.PluginModule && m.Plugin && m.FilterChain ? (m as HostModule) : undefined;
    } catch {
      return undefined;
    }
  })();
  return hostModule;
}

/** Resolves a cluster name a plugin passes to `proxy_http_call`. */
export type ClusterLookup = (name: string) => UpstreamCluster | undefined;

/** Per-process plugin machinery shared by all snapshots. */
export class PluginRuntime {
  readonly metrics: MetricRegistry = new MetricRegistry();
  readonly shared: SharedState = new InMemorySharedState();
  private readonly modules = new Map<string, Promise<unknown>>();
  private readonly env: HostEnvironment;
  /** Modules compiled by this process so far (a config change that keeps the module does not add one). */
  compiles = 0;

  /** `lookup` resolves http_call clusters against the newest snapshot. */
  private logLines: string[] = [];
  private logScheduled = false;

  constructor(private readonly lookup: ClusterLookup) {
    this.env = {
      log: (level, name, message) => this.log(level, name, message),
      httpCall: (req) => this.httpCall(req),
      grpcCall: (req) => this.grpcCall(req),
      grpcStream: (req, events) => this.grpcStream(req, events),
      knownCluster: (c) => this.lookup(c) !== undefined,
      shared: this.shared,
      metrics: this.metrics as MetricStore,
    };
  }

  /** Plugin log lines go to stderr, one write per event-loop turn. */
  private log(level: number, name: string, message: string): void {
    this.logLines.push(`[${new Date().toISOString()}] [${enumName(LogLevel, level).toLowerCase()}] [plugin ${name}] ${message}`);
    if (this.logScheduled) return;
    this.logScheduled = true;
    setImmediate(() => {
      this.logScheduled = false;
      const text = `${this.logLines.join('\n')}\n`;
      this.logLines = [];
      process.stderr.write(text);
    });
  }

  /** The chain factory for snapshots, or undefined when runtime/host is not available. */
  async chainFactory(): Promise<ChainFactory | undefined> {
    const host = await loadHost();
    if (!host) return undefined;
    return (plugins, info) => new host.FilterChain(plugins, info);
  }

  /** Compiles (once per digest) and configures a plugin. Rejects with a ConfigError naming the plugin. */
  async create(p: ModelPlugin, settings: ModelSettings): Promise<PluginLike> {
    const host = await loadHost();
    if (!host) throw new ConfigError(CONFIG_CODES.pluginCompile, 'the plugin host (runtime/host) is not available in this build', { ...p.source, field: 'url' });
    const key = PluginRuntime.moduleKey(p);
    let mod = this.modules.get(key);
    if (!mod) {
      this.compiles++;
      mod = host.PluginModule.compile(p.wasm!, p.url);
      this.modules.set(key, mod);
      mod.catch(() => this.modules.delete(key));
    }
    let compiled: unknown;
    try {
      compiled = await mod;
    } catch (err) {
      throw new ConfigError(CONFIG_CODES.pluginCompile, `plugin ${p.id} (${p.url}) does not load: ${(err as Error).message}`, { ...p.source, field: 'url' }, { cause: err });
    }
    try {
      return await host.Plugin.create(compiled, {
        name: p.pluginName || p.id,
        configuration: p.configuration,
        failStrategy: p.failStrategy,
        memoryLimitBytes: settings.pluginMemoryLimitBytes,
        bodyBufferLimitBytes: settings.bodyBufferLimitBytes,
        env: { ...this.env, env: p.vmEnv, logLevel: LogLevel[settings.pluginLogLevel.toUpperCase() as keyof typeof LogLevel] },
      });
    } catch (err) {
      throw new ConfigError(CONFIG_CODES.pluginConfigure, `plugin ${p.id} rejected its configuration: ${(err as Error).message}`, { ...p.source, field: 'spec.defaultConfig' }, { cause: err });
    }
  }

  /**
   * Forgets compiled modules whose key ({@link moduleKey}) is not in `keep`, so a long session of
   * plugin rebuilds does not keep every old module alive. Running instances are unaffected.
   */
  retainModules(keep: Set<string>): void {
    for (const k of this.modules.keys()) if (!keep.has(k)) this.modules.delete(k);
  }

  /** Which compiled module a plugin uses: its digest (the URL while it has none). */
  static moduleKey(p: ModelPlugin): string {
    return p.digest ?? p.url;
  }

  /** Identity of a configured plugin: equal keys may share one instance across snapshots. */
  static key(p: ModelPlugin, settings: ModelSettings): string {
    return JSON.stringify([p.digest, p.pluginName || p.id, p.configuration, p.failStrategy, p.vmEnv, settings.pluginMemoryLimitBytes, settings.bodyBufferLimitBytes, settings.pluginLogLevel]);
  }

  private async httpCall(req: HttpCallRequest): Promise<HttpCallResponse | undefined> {
    const cluster = this.lookup(req.cluster);
    const ep = cluster?.pick();
    if (!cluster || !ep) return undefined;
    let method = 'GET';
    let path = '/';
    const headers: string[] = [];
    for (const [k, v] of req.headers) {
      if (k === ':method') method = v;
      else if (k === ':path') path = v;
      else if (k === ':authority') headers.push('host', v);
      else if (k.charCodeAt(0) !== 58) headers.push(k, v);
    }
    try {
      const r = await undiciRequest(`${ep.origin}${path}`, {
        method: method as 'GET',
        headers,
        body: req.body.length ? Buffer.from(req.body) : undefined,
        headersTimeout: req.timeoutMs || 5000,
        bodyTimeout: req.timeoutMs || 5000,
        dispatcher: ep.h1(),
      });
      const body = new Uint8Array(await r.body.arrayBuffer());
      const out = headerListOf(r.headers, [[':status', String(r.statusCode)]]);
      const trailers = headerListOf(r.trailers ?? {});
      return { headers: out, body, trailers };
    } catch {
      if (cluster) cluster.errors++;
      return undefined;
    }
  }

  /** A unary gRPC call to one endpoint of the cluster, over its HTTP/2 session. */
  private async grpcCall(req: GrpcCallRequest): Promise<GrpcCallResponse> {
    const cluster = this.lookup(req.cluster);
    const ep = cluster?.pick();
    if (!cluster || !ep) return { status: GrpcStatus.UNAVAILABLE, statusMessage: `no cluster ${req.cluster}`, message: new Uint8Array(0) };
    const r = await grpcUnary(ep.h2(), cluster.model.fqdn, req);
    if (r.status === GrpcStatus.UNAVAILABLE) cluster.errors++;
    return r;
  }

  /** A gRPC stream to one endpoint of the cluster, over its HTTP/2 session. */
  private grpcStream(req: GrpcStreamRequest, events: GrpcStreamEvents): GrpcStreamHandle {
    const cluster = this.lookup(req.cluster);
    const ep = cluster?.pick();
    if (!cluster || !ep) throw new Error(`no cluster ${req.cluster}`);
    return grpcStream(ep.h2(), cluster.model.fqdn, req, {
      ...events,
      close(status, message) {
        if (status === GrpcStatus.UNAVAILABLE) cluster.errors++;
        events.close(status, message);
      },
    });
  }
}

/** Finds a cluster by the names plugins use: `outbound|port||fqdn`, `fqdn`, `fqdn:port`, `<name>.static`, `<name>.dns`. */
export function lookupCluster(clusters: Map<string, UpstreamCluster>, name: string): UpstreamCluster | undefined {
  const exact = clusters.get(name);
  if (exact) return exact;
  const m = /^(.*?)(?::(\d+))?$/.exec(name)!;
  for (const c of clusters.values()) {
    if (c.model.fqdn === m[1] && (!m[2] || c.model.port === Number(m[2]))) return c;
  }
  return undefined;
}
