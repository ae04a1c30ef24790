/**
 * The gateway `higress-plugin run` starts: the project's gateway (runtime/gateway) in this
 * process, configured in code with one listener, one upstream service, one catch-all route and
 * one plugin. Swapping the plugin is a gateway reload: new streams get the new plugin once it is
 * configured; streams in flight finish on the old one, so no request is dropped.
 */
import { startGateway, type Gateway } from '../../runtime/gateway/index.js';
import type { ReloadResult } from '../../runtime/gateway/control-plane.js';
import { AuthorError } from './errors.js';
import type { PluginConfig } from './config-schema.js';

/** The route every request takes (a Higress route name, for `_match_route_` rules). */
export const RUN_ROUTE = 'default/run';
/** Service name of the upstream: its cluster is `outbound|<port>||upstream`. */
export const UPSTREAM_SERVICE = 'upstream';

/** The plugin a dev gateway serves. */
export interface DevPlugin {
  /** Plugin name (root id, log prefix). */
  name: string;
  /** `file://`, `oci://` or `http(s)://` URL of the module. */
  url: string;
  /** Global config; default `{}`. */
  config?: PluginConfig;
  phase?: string;
  priority?: number;
  failStrategy?: 'FAIL_CLOSE' | 'FAIL_OPEN' | 'FAIL_RELOAD';
}

/** Options of {@link DevGateway.start}. */
export interface DevGatewayOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Listen port; default 8080 (0 = any free port). */
  port?: number;
  /** Upstream base URL (http or https). */
  upstream: URL;
  plugin: DevPlugin;
  /** JSON access log lines on stdout; default off (plugin logs are what a developer watches). */
  accessLog?: boolean;
  /** Plugin cache for oci:// URLs; default the OCI client's. */
  cacheDir?: string;
  /** More services the plugin may call (`proxy_http_call`); default none. */
  services?: DevService[];
}

/** A service a plugin calls, e.g. `auth.static` port 80 served by `http://127.0.0.1:9000`. */
export interface DevService {
  /** Service host as plugins name it: `auth.static`, `auth.dns`, `auth.default.svc.cluster.local`. */
  name: string;
  /** Port in the cluster name `outbound|<port>||<name>`; default 80. */
  port: number;
  /** Where it really is. */
  url: URL;
}

/** Parses `--service name[:port]=url`; throws HP_BAD_OPTION. */
export function parseServiceOption(value: string): DevService {
  const m = /^([A-Za-z0-9.-]+)(?::(\d+))?=(.+)$/.exec(value.trim());
  let url: URL | undefined;
  try {
    url = m ? new URL(m[3]) : undefined;
  } catch {
    url = undefined;
  }
  if (!m || !url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new AuthorError('HP_BAD_OPTION', `--service: expected <name>[:port]=<http(s) URL>, e.g. auth.static=http://127.0.0.1:9000, got "${value}"`);
  }
  return { name: m[1], port: m[2] ? Number(m[2]) : 80, url };
}

/** A running dev gateway. */
export class DevGateway {
  private constructor(private readonly gateway: Gateway, private readonly state: { plugin: DevPlugin }, readonly port: number, readonly host: string) {}

  /** Starts it; rejects with HP_GATEWAY_FAILED (naming the gateway's reason) when the plugin or config fails. */
  static async start(o: DevGatewayOptions): Promise<DevGateway> {
    const host = o.host ?? '127.0.0.1';
    const state = { plugin: o.plugin };
    // Every reload reads the plugin currently in `state`.
    const documents = () => [{ file: '(higress-plugin run)', index: 0, value: nativeConfig(o, host, state.plugin) }];
    let gateway: Gateway;
    try {
      gateway = await startGateway({ documents, workers: 0, watch: false, cacheDir: o.cacheDir, load: { adminPort: 0 } });
    } catch (err) {
      const msg = (err as Error).message;
      const hint = /EADDRINUSE/.test(msg) ? ' (another process has that port: choose one with --port, or --port 0 for any free port)' : '';
      throw new AuthorError('HP_GATEWAY_FAILED', `the gateway did not start: ${msg}${hint}`, { cause: err });
    }
    return new DevGateway(gateway, state, Object.values(gateway.ports())[0], host);
  }

  /** The plugin being served. */
  get plugin(): DevPlugin {
    return this.state.plugin;
  }

  /** `http://host:port` of the listener. */
  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** The admin API port (config_dump, stats). */
  get adminPort(): number {
    return this.gateway.adminPort;
  }

  /**
   * Serves `next` instead of the current plugin. Resolves when new requests get it; when it fails
   * (load error, on_configure false) the old plugin keeps serving and the result says why.
   */
  async swap(next: Partial<DevPlugin>): Promise<ReloadResult> {
    const before = this.state.plugin;
    this.state.plugin = { ...before, ...next };
    const r = await this.gateway.reload();
    if (!r.ok) this.state.plugin = before;
    return r;
  }

  /** Stops listening; requests in flight get a moment to finish. */
  close(): Promise<void> {
    return this.gateway.close();
  }
}

/** The gateway's native config for one plugin on one catch-all route in front of one upstream. */
function nativeConfig(o: DevGatewayOptions, host: string, plugin: DevPlugin): Record<string, unknown> {
  const up = o.upstream;
  const route: Record<string, unknown> = { name: RUN_ROUTE, path: '/', pathType: 'Prefix', service: UPSTREAM_SERVICE };
  const rewrite: Record<string, string> = {};
  if (!isLoopback(up.hostname)) rewrite.host = up.host; // virtual-hosted upstreams route by Host
  if (up.pathname && up.pathname !== '/') rewrite.prefix = `${up.pathname.replace(/\/$/, '')}/`;
  if (Object.keys(rewrite).length) route.rewrite = rewrite;
  const p: Record<string, unknown> = { name: plugin.name, url: plugin.url, config: plugin.config ?? {} };
  if (plugin.phase) p.phase = plugin.phase;
  if (plugin.priority !== undefined) p.priority = plugin.priority;
  if (plugin.failStrategy) p.failStrategy = plugin.failStrategy;
  return {
    listeners: [{ name: 'run', address: host, port: o.port ?? 8080 }],
    admin: { address: '127.0.0.1', port: 0 },
    settings: { accessLog: o.accessLog ? 'stdout' : 'off' },
    services: [
      service(UPSTREAM_SERVICE, undefined, up),
      ...(o.services ?? []).map((s) => service(s.name, s.port, s.url)),
    ],
    routes: [route],
    plugins: [p],
  };
}

/** A native service entry: `port` names the cluster, the URL says where the endpoint is. */
function service(name: string, port: number | undefined, url: URL): Record<string, unknown> {
  const https = url.protocol === 'https:';
  const urlPort = Number(url.port || (https ? 443 : 80));
  const host = url.hostname.startsWith('[') || !url.hostname.includes(':') ? url.hostname : `[${url.hostname}]`;
  return { name, port: port ?? urlPort, protocol: https ? 'https' : 'http', endpoints: [`${host}:${urlPort}`] };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}
