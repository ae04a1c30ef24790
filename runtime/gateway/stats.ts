/**
 * Gateway statistics in Prometheus text format: requests by route and status, latency
 * histograms by route, upstream errors and retries by cluster, plugin VM state, and plugin-defined metrics.
 */
import type { MetricSample } from '../host/types.js';

const BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

interface Histogram { counts: number[]; sum: number; count: number }

/** Per-process counters; cheap to update on the hot path. */
export class GatewayStats {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly upstreamErrors = new Map<string, number>();
  private readonly upstreamRetries = new Map<string, number>();
  /** Worker replacements by the watchdog (primary only). */
  watchdogKills = 0;
  reloadsOk = 0;
  reloadsFailed = 0;

  /** Records one finished request. */
  record(route: string, status: number, durationMs: number): void {
    const key = `${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let h = this.latency.get(route);
    if (!h) this.latency.set(route, (h = { counts: new Array(BUCKETS_MS.length).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS_MS.length; i++) if (durationMs <= BUCKETS_MS[i]) { h.counts[i]++; break; }
    h.sum += durationMs;
    h.count++;
  }

  upstreamError(cluster: string): void {
    this.upstreamErrors.set(cluster, (this.upstreamErrors.get(cluster) ?? 0) + 1);
  }

  upstreamRetry(cluster: string): void {
    this.upstreamRetries.set(cluster, (this.upstreamRetries.get(cluster) ?? 0) + 1);
  }

  /** Serializable form, summed across workers by the primary. */
  toJSON(): StatsData {
    return {
      requests: [...this.requests],
      latency: [...this.latency].map(([k, v]) => [k, v]),
      upstreamErrors: [...this.upstreamErrors],
      upstreamRetries: [...this.upstreamRetries],
      watchdogKills: this.watchdogKills,
      reloadsOk: this.reloadsOk,
      reloadsFailed: this.reloadsFailed,
    };
  }
}

/** Plain-data statistics of one process. */
export interface StatsData {
  requests: Array<[string, number]>;
  latency: Array<[string, Histogram]>;
  upstreamErrors: Array<[string, number]>;
  upstreamRetries?: Array<[string, number]>;
  watchdogKills: number;
  reloadsOk: number;
  reloadsFailed: number;
  plugins?: PluginStatsData[];
  pluginMetrics?: MetricSample[];
}

export interface PluginStatsData {
  name: string;
  state: string;
  vmReloads: number;
  vmReloadFailures: number;
  failures: number;
  memoryRebuilds: number;
  activeStreams: number;
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function metricName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_:]/g, '_');
}

/** Merges per-process statistics (workers) and renders Prometheus text exposition. */
export function renderPrometheus(parts: StatsData[]): string {
  const req = new Map<string, number>();
  const lat = new Map<string, Histogram>();
  const ue = new Map<string, number>();
  const ur = new Map<string, number>();
  const plugins = new Map<string, PluginStatsData & { workers: number }>();
  const pm = new Map<string, MetricSample>();
  let kills = 0, ok = 0, failed = 0;
  for (const p of parts) {
    for (const [k, v] of p.requests) req.set(k, (req.get(k) ?? 0) + v);
    for (const [k, v] of p.latency) {
      const h = lat.get(k);
      if (!h) lat.set(k, { counts: [...v.counts], sum: v.sum, count: v.count });
      else { v.counts.forEach((c, i) => (h.counts[i] += c)); h.sum += v.sum; h.count += v.count; }
    }
    for (const [k, v] of p.upstreamErrors) ue.set(k, (ue.get(k) ?? 0) + v);
    for (const [k, v] of p.upstreamRetries ?? []) ur.set(k, (ur.get(k) ?? 0) + v);
    kills += p.watchdogKills; ok = Math.max(ok, p.reloadsOk); failed = Math.max(failed, p.reloadsFailed);
    for (const s of p.plugins ?? []) {
      const prev = plugins.get(s.name);
      if (!prev) plugins.set(s.name, { ...s, workers: 1 });
      else {
        prev.vmReloads += s.vmReloads; prev.vmReloadFailures += s.vmReloadFailures; prev.failures += s.failures;
        prev.memoryRebuilds += s.memoryRebuilds; prev.activeStreams += s.activeStreams; prev.workers++;
        if (s.state !== 'ready') prev.state = s.state;
      }
    }
    for (const m of p.pluginMetrics ?? []) {
      const prev = pm.get(m.name);
      if (!prev) pm.set(m.name, { ...m, histogram: m.histogram ? { ...m.histogram, buckets: m.histogram.buckets.map((b) => [b[0], b[1]] as [number, number]) } : undefined });
      else if (m.type === 'gauge') prev.value = m.value; // a gauge is per-VM; show the latest
      else {
        prev.value += m.value;
        if (prev.histogram && m.histogram) {
          prev.histogram.count += m.histogram.count; prev.histogram.sum += m.histogram.sum;
          m.histogram.buckets.forEach((b, i) => { if (prev.histogram!.buckets[i]) prev.histogram!.buckets[i][1] += b[1]; });
        }
      }
    }
  }
  const lines: string[] = [];
  lines.push('# TYPE gateway_requests_total counter');
  for (const [k, v] of req) {
    const [route, status] = k.split('\u0000');
    lines.push(`gateway_requests_total{route="${esc(route)}",status="${status}"} ${v}`);
  }
  lines.push('# TYPE gateway_request_duration_ms histogram');
  for (const [route, h] of lat) {
    let cum = 0;
    BUCKETS_MS.forEach((le, i) => { cum += h.counts[i]; lines.push(`gateway_request_duration_ms_bucket{route="${esc(route)}",le="${le}"} ${cum}`); });
    lines.push(`gateway_request_duration_ms_bucket{route="${esc(route)}",le="+Inf"} ${h.count}`);
    lines.push(`gateway_request_duration_ms_sum{route="${esc(route)}"} ${h.sum.toFixed(3)}`);
    lines.push(`gateway_request_duration_ms_count{route="${esc(route)}"} ${h.count}`);
  }
  lines.push('# TYPE gateway_upstream_errors_total counter');
  for (const [k, v] of ue) lines.push(`gateway_upstream_errors_total{cluster="${esc(k)}"} ${v}`);
  lines.push('# TYPE gateway_upstream_retries_total counter');
  for (const [k, v] of ur) lines.push(`gateway_upstream_retries_total{cluster="${esc(k)}"} ${v}`);
  lines.push('# TYPE gateway_watchdog_worker_replacements_total counter', `gateway_watchdog_worker_replacements_total ${kills}`);
  lines.push('# TYPE gateway_config_reloads_total counter', `gateway_config_reloads_total{result="ok"} ${ok}`, `gateway_config_reloads_total{result="failed"} ${failed}`);
  lines.push('# TYPE gateway_plugin_vm_ready gauge');
  for (const p of plugins.values()) lines.push(`gateway_plugin_vm_ready{plugin="${esc(p.name)}",state="${p.state}"} ${p.state === 'ready' ? 1 : 0}`);
  lines.push('# TYPE gateway_plugin_failures_total counter');
  for (const p of plugins.values()) lines.push(`gateway_plugin_failures_total{plugin="${esc(p.name)}"} ${p.failures}`);
  lines.push('# TYPE gateway_plugin_vm_reloads_total counter');
  for (const p of plugins.values()) {
    lines.push(`gateway_plugin_vm_reloads_total{plugin="${esc(p.name)}",result="ok"} ${p.vmReloads}`);
    lines.push(`gateway_plugin_vm_reloads_total{plugin="${esc(p.name)}",result="failed"} ${p.vmReloadFailures}`);
  }
  lines.push('# TYPE gateway_plugin_memory_rebuilds_total counter');
  for (const p of plugins.values()) lines.push(`gateway_plugin_memory_rebuilds_total{plugin="${esc(p.name)}"} ${p.memoryRebuilds}`);
  for (const m of pm.values()) {
    const n = metricName(m.name);
    lines.push(`# TYPE ${n} ${m.type}`);
    if (m.type === 'histogram' && m.histogram) {
      for (const [le, c] of m.histogram.buckets) lines.push(`${n}_bucket{le="${le}"} ${c}`);
      lines.push(`${n}_bucket{le="+Inf"} ${m.histogram.count}`, `${n}_sum ${m.histogram.sum}`, `${n}_count ${m.histogram.count}`);
    } else lines.push(`${n} ${m.value}`);
  }
  return `${lines.join('\n')}\n`;
}
