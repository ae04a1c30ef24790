/**
 * An immutable view of one configuration version: router, upstream clusters and configured
 * plugin instances. Streams hold a reference to the snapshot they started on; a retired snapshot
 * tears down what the next one did not take over once its last stream ends.
 */
import type { HeaderList, PhaseResult, StreamInfo } from '../host/types.js';
import type { ConfigModel, ModelPlugin } from './config-model.js';
import { Router } from './router.js';
import { UpstreamCluster } from './upstream-pool.js';

/** What the proxy needs from the host's FilterChain (runtime/host). */
export interface ChainLike {
  requestHeaders(headers: HeaderList, endOfStream: boolean): Promise<PhaseResult>;
  requestData(chunk: Uint8Array, endOfStream: boolean): Promise<PhaseResult>;
  requestTrailers(trailers: HeaderList): Promise<PhaseResult>;
  responseHeaders(headers: HeaderList, endOfStream: boolean): Promise<PhaseResult>;
  responseData(chunk: Uint8Array, endOfStream: boolean): Promise<PhaseResult>;
  responseTrailers(trailers: HeaderList): Promise<PhaseResult>;
  readonly wantsRequestBody: boolean;
  readonly wantsResponseBody: boolean;
  finish(): void;
  info: StreamInfo;
  /** A property a plugin set on the stream (`proxy_set_property`). */
  property(name: string): Uint8Array | undefined;
}

/** What the gateway needs from the host's Plugin. */
export interface PluginLike {
  readonly name: string;
  readonly state: string;
  readonly stats: { vmReloads: number; vmReloadFailures: number; failures: number; memoryRebuilds: number; activeStreams: number };
  destroy(): Promise<void>;
}

/** A configured plugin in a snapshot. `key` identifies identical setups across snapshots (reuse). */
export interface PluginInstance {
  model: ModelPlugin;
  plugin: PluginLike;
  key: string;
}

/** Builds a chain over plugin instances (the host's FilterChain). */
export type ChainFactory = (plugins: PluginLike[], info: StreamInfo) => ChainLike;

function domainMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*')) return host.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return host.startsWith(pattern.slice(0, -1));
  return host === pattern;
}

function serviceMatches(entry: string, cluster: string): boolean {
  // outbound|<port>|<subset>|<fqdn>: entry is fqdn or fqdn:port
  const parts = cluster.split('|');
  if (parts.length !== 4) return false;
  return entry === parts[3] || entry === `${parts[3]}:${parts[1]}`;
}

/** Does a plugin do anything for this request? (A plugin with no global config and no matching rule is bypassed by the SDK anyway; skipping it here lets the body stream unbuffered.) */
export function pluginApplies(p: ModelPlugin, route: string, host: string, cluster: string): boolean {
  const s = p.scope;
  if (s.global) return true;
  if (route && s.routes.includes(route)) return true;
  for (const d of s.domains) if (domainMatches(d, host)) return true;
  for (const e of s.services) if (serviceMatches(e, cluster)) return true;
  for (const pre of s.routePrefixes) if (route.startsWith(pre)) return true;
  return false;
}

/** One configuration version, ready to serve. */
export class Snapshot {
  readonly model: ConfigModel;
  readonly router: Router;
  readonly clusters: Map<string, UpstreamCluster>;
  /** In chain order (phase, then priority). */
  readonly plugins: PluginInstance[];
  readonly chainFactory?: ChainFactory;
  private readonly hasDomainRules: boolean;
  /** pluginsFor answers by route, then cluster (and host when some plugin has domain rules). */
  private readonly applicable = new Map<string, Map<string, PluginLike[]>>();
  private applicableCount = 0;
  private refs = 0;
  private retiredKeep?: { plugins: Set<PluginLike>; clusters: Set<UpstreamCluster> };
  private tornDown = false;

  constructor(model: ConfigModel, clusters: Map<string, UpstreamCluster>, plugins: PluginInstance[], chainFactory?: ChainFactory) {
    this.model = model;
    this.router = new Router(model.routes);
    this.clusters = clusters;
    this.plugins = plugins;
    this.chainFactory = chainFactory;
    this.hasDomainRules = plugins.some((p) => p.model.scope.domains.length > 0);
  }

  /** Plugins that apply to a request, in order (cached per route and cluster unless domain rules exist). */
  pluginsFor(route: string, host: string, cluster: string): PluginLike[] {
    if (this.plugins.length === 0) return [];
    let byRoute = this.applicable.get(route);
    if (!byRoute) this.applicable.set(route, (byRoute = new Map()));
    const key = this.hasDomainRules ? `${cluster}|${host}` : cluster;
    let list = byRoute.get(key);
    if (!list) {
      list = this.plugins.filter((p) => pluginApplies(p.model, route, host, cluster)).map((p) => p.plugin);
      if (this.applicableCount < 10000) {
        byRoute.set(key, list);
        this.applicableCount++;
      }
    }
    return list;
  }

  acquire(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0 && this.retiredKeep) void this.teardown();
  }

  /** Stops serving new streams; what `keep` does not name is torn down when the last stream ends. */
  retire(keep: { plugins: Set<PluginLike>; clusters: Set<UpstreamCluster> }): void {
    this.retiredKeep = keep;
    if (this.refs === 0) void this.teardown();
  }

  private async teardown(): Promise<void> {
    if (this.tornDown || !this.retiredKeep) return;
    this.tornDown = true;
    const keep = this.retiredKeep;
    await Promise.all([
      ...this.plugins.filter((p) => !keep.plugins.has(p.plugin)).map((p) => p.plugin.destroy().catch(() => undefined)),
      ...[...this.clusters.values()].filter((c) => !keep.clusters.has(c)).map((c) => c.close()),
    ]);
  }
}
