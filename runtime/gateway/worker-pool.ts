/**
 * Worker processes (`node:cluster`) running the data plane, and the primary's watchdog: each
 * worker sends a heartbeat from its event loop; a worker silent for longer than the limit (a
 * plugin stuck in a loop) is killed and replaced, and the replacement gets the current model.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { ConfigModel } from './config-model.js';
import type { DataPlaneTarget } from './control-plane.js';
import { ConfigError, GatewayError } from './errors.js';
import type { ApplyReport } from './control-plane.js';
import type { StatsData } from './stats.js';

/** Messages between primary and workers. */
export type ToWorker = { type: 'apply'; id: number; model: ConfigModel } | { type: 'stats'; id: number };
export type FromWorker =
  | { type: 'beat' }
  | { type: 'ready' }
  | { type: 'applied'; id: number; ok: boolean; report?: ApplyReport; error?: { code: string; message: string; location?: object } }
  | { type: 'stats'; id: number; data: StatsData };

/** Heartbeat period of workers. */
export const BEAT_MS = 100;

interface WorkerState {
  worker: Worker;
  lastBeat: number;
  ready: Promise<void>;
  started: boolean;
  /** Requests sent to this worker awaiting its answer, by id; rejected when the worker exits. */
  pending: Map<number, { resolve(m: FromWorker): void; reject(e: Error): void }>;
}

/** A set of worker processes as one data-plane target. */
export class WorkerPool implements DataPlaneTarget {
  private readonly workers = new Set<WorkerState>();
  private nextId = 1;
  private model?: ConfigModel;
  private timer?: NodeJS.Timeout;
  private closing = false;
  /** Workers replaced because their event loop was blocked. */
  watchdogKills = 0;
  /** Workers replaced after an unexpected exit. */
  crashes = 0;

  /** Current watchdog limit (ms): the fixed one given, else each applied config's `settings.watchdogMs`. */
  private watchdogMs: number;

  /** `watchdogMs` fixes the limit; undefined follows the config (3000 ms until one is applied). */
  constructor(private readonly count: number, private readonly fixedWatchdogMs?: number) {
    this.watchdogMs = fixedWatchdogMs ?? 3000;
  }

  /** Forks the workers and starts the watchdog. */
  async start(): Promise<void> {
    // Workers accept from the shared socket themselves: with the default round-robin the primary
    // would hand new connections to a worker whose loop is blocked, and a watchdog kill orphans them.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)), serialization: 'advanced', silent: false });
    await Promise.all(Array.from({ length: this.count }, () => this.fork().ready));
    this.timer = setInterval(() => this.check(), Math.min(250, this.watchdogMs / 4));
    this.timer.unref();
  }

  private fork(): WorkerState {
    const worker = cluster.fork();
    let markReady!: () => void;
    const state: WorkerState = { worker, lastBeat: Date.now(), ready: new Promise((r) => (markReady = r)), started: false, pending: new Map() };
    this.workers.add(state);
    worker.on('message', (m: FromWorker) => {
      state.lastBeat = Date.now();
      if (m.type === 'ready') { state.started = true; markReady(); }
      else if (m.type === 'applied' || m.type === 'stats') {
        const w = state.pending.get(m.id);
        if (w) { state.pending.delete(m.id); w.resolve(m); }
      }
    });
    worker.on('exit', () => {
      this.workers.delete(state);
      for (const w of state.pending.values()) w.reject(new GatewayError('GW_WORKER_EXIT', 'worker exited'));
      state.pending.clear();
      if (this.closing) return;
      if (!(worker as Worker & { killedByWatchdog?: boolean }).killedByWatchdog) this.crashes++;
      const next = this.fork();
      // The replacement serves the current model as soon as it is up.
      if (this.model) {
        const model = this.model;
        void next.ready.then(() => this.send(next, { type: 'apply', id: 0, model }).catch(() => undefined));
      }
    });
    return state;
  }

  private check(): void {
    const now = Date.now();
    for (const s of this.workers) {
      // A worker still loading its modules sends no beats yet; it is judged once it said ready.
      if (s.started && now - s.lastBeat > this.watchdogMs && !s.worker.isDead()) {
        this.watchdogKills++;
        (s.worker as Worker & { killedByWatchdog?: boolean }).killedByWatchdog = true;
        s.lastBeat = Infinity;
        process.stderr.write(`[${new Date().toISOString()}] [error] [gateway] watchdog: worker ${s.worker.process.pid} blocked for more than ${this.watchdogMs} ms (a plugin in an endless loop?): replaced\n`);
        s.worker.process.kill('SIGKILL');
      }
    }
  }

  private send(s: WorkerState, msg: ToWorker): Promise<FromWorker> {
    const id = this.nextId++;
    const withId = { ...msg, id } as ToWorker;
    return new Promise((resolve, reject) => {
      s.pending.set(id, { resolve, reject });
      s.worker.send(withId, (err: Error | null) => { if (err && s.pending.delete(id)) reject(err); });
    });
  }

  /** Applies a model on every worker; resolves with their reports summed. Rejects with the first worker's error. */
  async apply(model: ConfigModel): Promise<ApplyReport> {
    const replies = await Promise.all([...this.workers].map(async (s) => { await s.ready; return this.send(s, { type: 'apply', id: 0, model }); }));
    const bad = replies.find((r) => r.type === 'applied' && !r.ok) as Extract<FromWorker, { type: 'applied' }> | undefined;
    if (bad) {
      const e = bad.error!;
      if (e.location) throw Object.assign(new ConfigError(e.code, '', {}), { message: e.message, location: e.location });
      throw new GatewayError(e.code, e.message);
    }
    this.model = model;
    this.watchdogMs = this.fixedWatchdogMs ?? model.settings.watchdogMs;
    const sum: ApplyReport = { pluginsCreated: 0, pluginsReused: 0, modulesCompiled: 0 };
    for (const r of replies) {
      const rep = r.type === 'applied' ? r.report : undefined;
      if (!rep) continue;
      sum.pluginsCreated += rep.pluginsCreated;
      sum.pluginsReused += rep.pluginsReused;
      sum.modulesCompiled += rep.modulesCompiled;
    }
    return sum;
  }

  async stats(): Promise<StatsData[]> {
    // A worker still starting has no message listener yet (a message sent now would be lost): skip it.
    const out = await Promise.all([...this.workers].filter((s) => s.started).map((s) => Promise.race([
      this.send(s, { type: 'stats', id: 0 }).catch(() => undefined),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref()),
    ])));
    const parts = out.filter((m): m is Extract<FromWorker, { type: 'stats' }> => m?.type === 'stats').map((m) => m.data);
    parts.push({ requests: [], latency: [], upstreamErrors: [], watchdogKills: this.watchdogKills, reloadsOk: 0, reloadsFailed: 0 });
    return parts;
  }

  /** Worker process ids (tests use them). */
  pids(): number[] {
    return [...this.workers].map((s) => s.worker.process.pid!).filter(Boolean);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await Promise.all([...this.workers].map((s) => new Promise<void>((r) => {
      if (s.worker.isDead()) return r();
      s.worker.once('exit', () => r());
      s.worker.kill('SIGTERM');
      setTimeout(() => { if (!s.worker.isDead()) s.worker.process.kill('SIGKILL'); }, 3000).unref();
    })));
  }
}
