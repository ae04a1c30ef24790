/**
 * Starting the gateway: control plane + admin API in this process, data plane either in this
 * process (`workers: 0`) or in worker processes with a watchdog.
 */
import type http from 'node:http';
import { availableParallelism } from 'node:os';
import { startAdmin } from './admin-server.js';
import { ControlPlane, type ConfigSource, type DataPlaneTarget, type ReloadResult } from './control-plane.js';
import { DataPlane } from './data-plane.js';
import { GatewayError } from './errors.js';
import type { StatsData } from './stats.js';
import { WorkerPool } from './worker-pool.js';

/** Options of {@link startGateway}. */
export interface GatewayOptions extends ConfigSource {
  /** Worker processes; 0 = serve in this process. Default: one per core. */
  workers?: number;
  /** Watch config files and `file://` plugins; default true. */
  watch?: boolean;
  /** Watchdog limit for a blocked worker (ms); default the config's `settings.watchdogMs` (3000). */
  watchdogMs?: number;
}

/** A running gateway. */
export interface Gateway {
  readonly controlPlane: ControlPlane;
  /** Admin API port. */
  readonly adminPort: number;
  /** Bound ports by listener name (in-process mode; in worker mode the configured ports). */
  ports(): Record<string, number>;
  reload(): Promise<ReloadResult>;
  /** Worker process ids (empty in-process). */
  workerPids(): number[];
  /** Watchdog replacements so far. */
  watchdogKills(): number;
  close(): Promise<void>;
}

class LocalTarget implements DataPlaneTarget {
  constructor(readonly plane: DataPlane) {}
  apply(model: Parameters<DataPlane['apply']>[0]) { return this.plane.apply(model); }
  async stats(): Promise<StatsData[]> { return [this.plane.statsData()]; }
}

/** Starts a gateway; rejects if the initial configuration is invalid (with the reload error). */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const workers = opts.workers ?? availableParallelism();
  let target: DataPlaneTarget;
  let plane: DataPlane | undefined;
  let pool: WorkerPool | undefined;
  if (workers === 0) {
    plane = new DataPlane();
    target = new LocalTarget(plane);
  } else {
    pool = new WorkerPool(workers, opts.watchdogMs);
    await pool.start();
    target = pool;
  }
  const cp = new ControlPlane(opts, target);
  const first = await cp.reload();
  if (!first.ok) {
    await pool?.close();
    await plane?.close(0);
    const e = first.error!;
    throw Object.assign(new GatewayError(e.code, e.message), { location: e.location });
  }
  if (opts.watch !== false) cp.watch();
  const model = cp.model!;
  let admin: { server: http.Server; port: number };
  try {
    admin = await startAdmin(cp, model.admin.address, model.admin.port);
  } catch (err) {
    cp.close();
    await pool?.close();
    await plane?.close(0);
    throw new GatewayError('GW_ADMIN_LISTEN', `cannot start the admin API on ${model.admin.address}:${model.admin.port}: ${(err as Error).message}`, { cause: err });
  }
  return {
    controlPlane: cp,
    adminPort: admin.port,
    ports: () => plane ? plane.ports() : Object.fromEntries((cp.model?.listeners ?? []).map((l) => [l.name, l.port])),
    reload: () => cp.reload(),
    workerPids: () => pool?.pids() ?? [],
    watchdogKills: () => pool?.watchdogKills ?? 0,
    async close() {
      cp.close();
      await new Promise<void>((r) => { admin.server.close(() => r()); admin.server.closeAllConnections(); });
      await pool?.close();
      await plane?.close(500);
    },
  };
}
