/**
 * The control plane: reads and validates configuration, fetches plugin modules, hands the model
 * to the data plane(s), watches the files, and remembers the last error. A change is applied as
 * a whole or not at all.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigModel } from './config-model.js';
import { buildModel, loadConfig, type LoadOptions } from './config-loader.js';
import type { ConfigDocument } from './config-files.js';
import { ConfigError, GatewayError, type ConfigLocation } from './errors.js';
import { fetchPluginBytes } from './plugin-source.js';
import type { StatsData } from './stats.js';

/** What applying a model did with plugins (in-process data plane; worker processes do not report it). */
export interface ApplyReport {
  /** Plugin instances configured anew (their VM started and `on_configure` ran). */
  pluginsCreated: number;
  /** Instances carried over unchanged from the previous snapshot. */
  pluginsReused: number;
  /** Modules compiled; a change that keeps a plugin's module (same digest) adds none. */
  modulesCompiled: number;
}

/** Where the data plane lives: this process or worker processes. */
export interface DataPlaneTarget {
  /** Applies a model as a whole; resolves with a report when the target keeps one. */
  apply(model: ConfigModel): Promise<ApplyReport | void>;
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

/** Where the time of one reload went, in ms. */
export interface ReloadTimings {
  /** First file change seen to the start of the reload (quiet period, queueing); 0 for a reload asked for directly. */
  waitMs: number;
  /** Listing, reading, parsing and validating the configuration. */
  loadMs: number;
  /** Fetching plugin modules. */
  fetchMs: number;
  /** The data plane(s): compiling and configuring plugins, opening listeners, swapping the snapshot. */
  applyMs: number;
}

/** What a reload did with plugin modules. */
export interface ReloadPlugins {
  /** Modules fetched (read, downloaded or taken from the OCI cache). */
  fetched: number;
  /** `file://` modules whose file had not changed since the last fetch, so it was not read again. */
  unchanged: number;
  /** What the data plane did (in worker mode summed over the workers, each of which keeps its own plugin instances). */
  applied?: ApplyReport;
}

/** Outcome of one reload. */
export interface ReloadResult {
  ok: boolean;
  version: number;
  /** Config write (the first file change seen by the watcher) or reload request to new snapshot serving, in ms. */
  durationMs: number;
  /** Where that time went (up to the step that failed). */
  timings: ReloadTimings;
  /** Plugin fetches and compiles (up to the step that failed). */
  plugins: ReloadPlugins;
  error?: ReloadFailure;
}

/**
 * Quiet time after a file change before reloading: the events of one save come in a burst.
 * Short, because it adds to every change's write → new-behaviour time; the multi-step saves of
 * editors and tools (truncate then write, delete or rename then write) are caught by the
 * mid-save check instead of by a long wait.
 */
const QUIET_MS = 5;
/** A config file or `file://` module of the running model that is empty or missing right after a change is usually mid-save: look again after this long. */
const RECHECK_MS = 5;
/**
 * ...but not forever: after this many looks (about 250 ms) an empty or deleted file is what the
 * user meant. Counted in looks, not wall time: a stalled event loop would otherwise spend the
 * whole allowance before the write it waits for gets a turn.
 */
const SETTLE_MAX_LOOKS = 50;

export class ControlPlane {
  model?: ConfigModel;
  lastError?: ReloadFailure;
  reloadsOk = 0;
  reloadsFailed = 0;
  private version = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private watchers: FSWatcher[] = [];
  private watched = '';
  private debounce?: NodeJS.Timeout;
  private queued = false;
  /** First change event of the burst being waited out. */
  private burstStart?: number;
  /** Looks at half-saved files since the last change event. */
  private looks = 0;
  /** Oldest change not yet picked up by a reload (the start of its write → new-behaviour time). */
  private changedSince?: number;
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
    const since = Math.min(this.changedSince ?? start, start);
    this.changedSince = undefined;
    const timings: ReloadTimings = { waitMs: start - since, loadMs: 0, fetchMs: 0, applyMs: 0 };
    const plugins: ReloadPlugins = { fetched: 0, unchanged: 0 };
    try {
      const opts = this.source.load ?? {};
      const model = this.source.documents ? buildModel(this.source.documents(), [], opts) : await loadConfig(this.source.paths ?? [], opts);
      const loaded = performance.now();
      timings.loadMs = loaded - start;
      await this.fetchPlugins(model, plugins);
      const fetched = performance.now();
      timings.fetchMs = fetched - loaded;
      model.version = this.version + 1;
      const report = await this.target.apply(model);
      if (report) plugins.applied = report;
      const done = performance.now();
      timings.applyMs = done - fetched;
      this.version = model.version;
      this.model = model;
      this.lastError = undefined;
      this.reloadsOk++;
      const r: ReloadResult = { ok: true, version: this.version, durationMs: done - since, timings, plugins };
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
      const r: ReloadResult = { ok: false, version: this.version, durationMs: performance.now() - since, timings, plugins, error: this.lastError };
      this.onReload?.(r);
      return r;
    }
  }

  private async fetchPlugins(model: ConfigModel, counts: ReloadPlugins): Promise<void> {
    await Promise.all(model.plugins.map(async (p) => {
      const r = await fetchPluginBytes(p.url, { sha256: p.sha256, pullPolicy: p.pullPolicy, cacheDir: this.source.cacheDir }, p.source);
      p.wasm = r.wasm;
      p.digest = r.digest;
      if (r.unchanged) counts.unchanged++;
      else counts.fetched++;
    }));
  }

  /** Starts watching the config files (and `file://` plugin modules); a change triggers a reload. */
  watch(): void {
    this.rewatch(true);
  }

  private rewatch(force = false): void {
    if (!force && this.watchers.length === 0) return;
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
    // Same folders and names as now: keep the watchers (re-creating them costs time and could miss an event in between).
    const signature = JSON.stringify([...byDir].map(([d, n]) => [d, n && [...n].sort()]));
    if (!force && signature === this.watched) return;
    this.watched = signature;
    for (const w of this.watchers) w.close();
    this.watchers = [];
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
    this.burstStart ??= performance.now();
    this.looks = 0;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.settled(), QUIET_MS);
  }

  /** The burst of change events is over: reload, unless a known file looks half-saved. */
  private settled(): void {
    if (this.waitMidSave()) return;
    const first = this.burstStart ?? performance.now();
    this.burstStart = undefined;
    this.changedSince = Math.min(this.changedSince ?? first, first);
    if (this.queued) return;
    this.queued = true;
    void this.queue.then(() => {
      this.queued = false;
      // A reload queued behind another may start after the next save began: look again first.
      if (this.waitMidSave()) return;
      return this.reload();
    });
  }

  /** True (and a later look scheduled) while a known file looks half-saved and the allowance lasts. */
  private waitMidSave(): boolean {
    if (this.looks >= SETTLE_MAX_LOOKS || !this.midSave()) return false;
    this.looks++;
    this.burstStart ??= performance.now();
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.settled(), RECHECK_MS);
    return true;
  }

  /**
   * Whether a config file or `file://` module of the running model is empty or missing: the
   * state between a truncate (or delete) and the write that follows.
   */
  private midSave(): boolean {
    const m = this.model;
    if (!m) return false;
    const files = [...m.files];
    for (const p of m.plugins) if (p.url.startsWith('file://')) files.push(fileURLToPath(p.url));
    for (const f of files) {
      try {
        if (statSync(f).size === 0) return true;
      } catch {
        return true;
      }
    }
    return false;
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
    this.watched = '';
  }
}
