/**
 * The control plane: reads and validates configuration, fetches plugin modules, hands the model
 * to the data plane(s), watches the files, and remembers the last error. A change is applied as
 * a whole or not at all.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigModel } from './config-model.js';
import { buildModel, loadConfig, type LoadOptions } from './config-loader.js';
import type { ConfigDocument } from './config-files.js';
import { ConfigError, GatewayError, type ConfigLocation } from './errors.js';
import { fetchPluginBytes } from './plugin-source.js';
import type { StatsData } from './stats.js';

/** Where the data plane lives: this process or worker processes. */
export interface DataPlaneTarget {
  apply(model: ConfigModel): Promise<void>;
  stats(): Promise<StatsData[]>;
}

/** Where configuration comes from: files/directories, or documents built in code (the demo). */
export interface ConfigSource {
  paths?: string[];
  documents?: () => ConfigDocument[];
  load?: LoadOptions;
  /** Plugin cache folder for oci:// and http(s):// URLs; default the OCI client's. */
  cacheDir?: string;
}

/** A failed reload, as the admin API reports it. */
export interface ReloadFailure {
  code: string;
  message: string;
  location?: ConfigLocation;
  time: string;
}

/** Outcome of one reload. */
export interface ReloadResult {
  ok: boolean;
  version: number;
  /** Config write (or reload request) to new snapshot serving, in ms. */
  durationMs: number;
  error?: ReloadFailure;
}

export class ControlPlane {
  model?: ConfigModel;
  lastError?: ReloadFailure;
  reloadsOk = 0;
  reloadsFailed = 0;
  private version = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private watchers: FSWatcher[] = [];
  private debounce?: NodeJS.Timeout;
  private queued = false;
  /** Called after each reload attempt (tests and the CLI listen). */
  onReload?: (r: ReloadResult) => void;

  constructor(private readonly source: ConfigSource, private readonly target: DataPlaneTarget) {}

  /** Loads, fetches, applies. Concurrent calls are serialized; a call made while one is pending shares the next run. */
  reload(): Promise<ReloadResult> {
    const run = this.queue.then(() => this.reloadNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<ReloadResult> {
    const start = performance.now();
    try {
      const model = await this.build();
      model.version = this.version + 1;
      await this.target.apply(model);
      this.version = model.version;
      this.model = model;
      this.lastError = undefined;
      this.reloadsOk++;
      const r = { ok: true, version: this.version, durationMs: performance.now() - start };
      this.onReload?.(r);
      this.rewatch();
      return r;
    } catch (err) {
      const e = err as GatewayError;
      this.lastError = {
        code: e.code ?? 'GW_RELOAD',
        message: e.message,
        location: err instanceof ConfigError ? err.location : (e as { location?: ConfigLocation }).location,
        time: new Date().toISOString(),
      };
      this.reloadsFailed++;
      const r = { ok: false, version: this.version, durationMs: performance.now() - start, error: this.lastError };
      this.onReload?.(r);
      return r;
    }
  }

  private async build(): Promise<ConfigModel> {
    const opts = this.source.load ?? {};
    const model = this.source.documents ? buildModel(this.source.documents(), [], opts) : await loadConfig(this.source.paths ?? [], opts);
    await Promise.all(model.plugins.map(async (p) => {
      const r = await fetchPluginBytes(p.url, { sha256: p.sha256, pullPolicy: p.pullPolicy, cacheDir: this.source.cacheDir }, p.source);
      p.wasm = r.wasm;
      p.digest = r.digest;
    }));
    return model;
  }

  /** Starts watching the config files (and `file://` plugin modules); a change triggers a reload. */
  watch(): void {
    this.rewatch(true);
  }

  private rewatch(force = false): void {
    if (!force && this.watchers.length === 0) return;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    const byDir = new Map<string, Set<string> | null>();
    for (const p of this.source.paths ?? []) byDir.set(p, null); // a directory given as config: any file in it
    for (const f of this.model?.files ?? []) {
      const d = dirname(f);
      if (byDir.get(d) === null) continue;
      if (!byDir.has(d)) byDir.set(d, new Set());
      byDir.get(d)!.add(basename(f));
    }
    for (const p of this.model?.plugins ?? []) {
      if (!p.url.startsWith('file://')) continue;
      const f = fileURLToPath(p.url);
      const d = dirname(f);
      if (byDir.get(d) === null) continue;
      if (!byDir.has(d)) byDir.set(d, new Set());
      byDir.get(d)!.add(basename(f));
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, (_event, name) => {
          if (names && name && !names.has(String(name))) return;
          this.changed();
        });
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // a path that is a file, not a directory: watch the file itself
        try {
          const w = watch(dir, () => this.changed());
          this.watchers.push(w);
        } catch { /* vanished: the next reload reports it */ }
      }
    }
  }

  private changed(): void {
    clearTimeout(this.debounce);
    // Editors write in several steps; wait for the burst to end.
    this.debounce = setTimeout(() => {
      if (this.queued) return;
      this.queued = true;
      void this.queue.then(() => { this.queued = false; return this.reload(); });
    }, 25);
  }

  async stats(): Promise<StatsData[]> {
    const parts = await this.target.stats();
    parts.push({ requests: [], latency: [], upstreamErrors: [], watchdogKills: 0, reloadsOk: this.reloadsOk, reloadsFailed: this.reloadsFailed });
    return parts;
  }

  close(): void {
    clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
