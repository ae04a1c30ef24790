/**
 * The data plane of one process: listeners, the active snapshot, and applying a new model
 * (configure plugins, open new listeners, swap, retire the old snapshot). An `apply` that fails
 * leaves the running snapshot and listeners untouched.
 */
import type { ConfigModel, ModelListener } from './config-model.js';
import type { ApplyReport } from './control-plane.js';
import { AccessLog } from './access-log.js';
import { Listener } from './listener.js';
import { handleRequest, type ProxyContext } from './proxy.js';
import { PluginRuntime, lookupCluster } from './plugin-runtime.js';
import { Snapshot, type PluginInstance, type PluginLike } from './snapshot.js';
import { GatewayStats, type StatsData } from './stats.js';
import { UpstreamCluster } from './upstream-pool.js';
import { handleUpgrade } from './websocket.js';

/** What needs a new server socket when it changes; other listener settings (client timeouts, name) are updated in place. */
function listenerKey(l: ModelListener): string {
  return JSON.stringify([l.address, l.port, l.tls ?? null]);
}

/** One process's proxy. */
export class DataPlane {
  readonly stats = new GatewayStats();
  accessLog: AccessLog;
  private current?: Snapshot;
  private pending?: Snapshot;
  private readonly listeners = new Map<string, Listener>();
  readonly runtime: PluginRuntime;
  private readonly ctx: ProxyContext;
  private applying: Promise<unknown> = Promise.resolve();

  constructor() {
    this.accessLog = new AccessLog('off');
    this.runtime = new PluginRuntime((name) => {
      const snap = this.pending ?? this.current;
      return snap ? lookupCluster(snap.clusters, name) : undefined;
    });
    const self = this;
    this.ctx = {
      snapshot: () => (self.current ?? self.pending)!,
      stats: this.stats,
      get accessLog() { return self.accessLog; },
    };
  }

  /** The serving snapshot (undefined before the first successful apply). */
  get snapshot(): Snapshot | undefined {
    return this.current;
  }

  /** Bound ports by listener name. */
  ports(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.listeners.values()) out[l.model.name] = l.port;
    return out;
  }

  /** Applies a model; serialized with other applies. Rejects (with a ConfigError) without changing anything on failure. */
  apply(model: ConfigModel): Promise<ApplyReport> {
    const run = this.applying.then(() => this.applyNow(model));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(model: ConfigModel): Promise<ApplyReport> {
    const old = this.current;
    const compilesBefore = this.runtime.compiles;
    // Clusters: keep identical ones (warm pools), build the rest.
    const clusters = new Map<string, UpstreamCluster>();
    const reusedClusters = new Set<UpstreamCluster>();
    for (const c of model.clusters) {
      const prev = old?.clusters.get(c.name);
      if (prev && JSON.stringify({ ...prev.model, source: undefined }) === JSON.stringify({ ...c, source: undefined })) {
        clusters.set(c.name, prev);
        reusedClusters.add(prev);
      } else clusters.set(c.name, new UpstreamCluster(c));
    }
    const chainFactory = model.plugins.length ? await this.runtime.chainFactory() : undefined;
    // Plugins: reuse a configured instance when nothing about it changed, else create (on_configure) now.
    const created: PluginLike[] = [];
    const reusedPlugins = new Set<PluginLike>();
    const instances: PluginInstance[] = [];
    const staging = new Snapshot(model, clusters, [], undefined);
    this.pending = staging;
    try {
      for (const p of model.plugins) {
        const key = PluginRuntime.key(p, model.settings);
        const prev = old?.plugins.find((x) => x.key === key && !reusedPlugins.has(x.plugin) && x.plugin.state !== 'failed');
        if (prev) {
          reusedPlugins.add(prev.plugin);
          instances.push({ model: p, plugin: prev.plugin, key });
          continue;
        }
        const plugin = await this.runtime.create(p, model.settings);
        created.push(plugin);
        instances.push({ model: p, plugin, key });
      }
      // The first snapshot must exist before a listener can accept a request.
      if (!old) this.pending = new Snapshot(model, clusters, instances, chainFactory);
      await this.reconcileListeners(model);
    } catch (err) {
      this.pending = undefined;
      await Promise.all(created.map((p) => p.destroy().catch(() => undefined)));
      for (const c of clusters.values()) if (!reusedClusters.has(c)) void c.close();
      throw err;
    }
    if (!old || old.model.settings.accessLog !== model.settings.accessLog) {
      const prevLog = this.accessLog;
      this.accessLog = new AccessLog(model.settings.accessLog);
      prevLog.close();
    }
    const snap = old ? new Snapshot(model, clusters, instances, chainFactory) : this.pending!;
    this.current = snap;
    this.pending = undefined;
    old?.retire({ plugins: reusedPlugins, clusters: reusedClusters });
    this.closeStaleListeners(model);
    this.runtime.retainModules(new Set(model.plugins.map(PluginRuntime.moduleKey)));
    return { pluginsCreated: created.length, pluginsReused: reusedPlugins.size, modulesCompiled: this.runtime.compiles - compilesBefore };
  }

  private async reconcileListeners(model: ConfigModel): Promise<void> {
    const opened: Listener[] = [];
    try {
      for (const l of model.listeners) {
        const key = listenerKey(l);
        if (this.listeners.has(key)) continue;
        const listener = new Listener(l, {
          request: (req, res, conn) => handleRequest(this.ctx, req, res, conn),
          upgrade: (req, socket, head, conn) => handleUpgrade(this.ctx, req, socket, head, conn),
        });
        await listener.listen();
        opened.push(listener);
        this.listeners.set(key, listener);
      }
    } catch (err) {
      for (const l of opened) {
        this.listeners.delete(listenerKey(l.model));
        await l.close(0);
      }
      throw err;
    }
  }

  /** After the swap: listeners the model no longer has are closed; kept ones take their new settings (timeouts). */
  private closeStaleListeners(model: ConfigModel): void {
    for (const l of model.listeners) this.listeners.get(listenerKey(l))?.update(l);
    const keep = new Set(model.listeners.map(listenerKey));
    for (const [key, l] of this.listeners) {
      if (!keep.has(key)) {
        this.listeners.delete(key);
        void l.close();
      }
    }
  }

  /** Statistics of this process, including plugin VM state and plugin-defined metrics. */
  statsData(): StatsData {
    const data = this.stats.toJSON();
    data.plugins = (this.current?.plugins ?? []).map((p) => ({ name: p.model.id, state: p.plugin.state, ...p.plugin.stats }));
    data.pluginMetrics = this.runtime.metrics.samples();
    return data;
  }

  /** Closes listeners (waiting up to `graceMs` for open connections) and tears the snapshot down. */
  async close(graceMs = 2000): Promise<void> {
    await Promise.all([...this.listeners.values()].map((l) => l.close(graceMs)));
    this.listeners.clear();
    const snap = this.current;
    this.current = undefined;
    snap?.retire({ plugins: new Set(), clusters: new Set() });
    this.accessLog.close();
  }
}
