/**
 * Plugin-defined metrics (`proxy_define_metric` & co.), readable by the gateway for Prometheus
 * through {@link MetricStore.samples}. Pass one instance to every plugin (`HostEnvironment.metrics`).
 */
import { MetricType } from '../../spec/index.js';
import type { MetricSample, MetricStore } from './types.js';

/** Envoy's default histogram bucket bounds. */
export const HISTOGRAM_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

interface Metric {
  name: string;
  type: number;
  value: bigint;
  count: number;
  sum: number;
  buckets: number[];
}

const TYPE_NAMES: Record<number, MetricSample['type']> = {
  [MetricType.COUNTER]: 'counter',
  [MetricType.GAUGE]: 'gauge',
  [MetricType.HISTOGRAM]: 'histogram',
};

/** Result of a metric operation, mapped to proxy-wasm statuses by the host. */
export type MetricResult = 'ok' | 'not-found' | 'bad-argument';

/** In-memory {@link MetricStore}. Defining an existing name with the same type returns its id. */
export class MetricRegistry implements MetricStore {
  private readonly byId: Metric[] = [];
  private readonly byName = new Map<string, number>();

  /** Defines (or finds) a metric; undefined for an unknown type or a name defined with another type. */
  define(type: number, name: string): number | undefined {
    if (TYPE_NAMES[type] === undefined) return undefined;
    const existing = this.byName.get(name);
    if (existing !== undefined) return this.byId[existing]!.type === type ? existing : undefined;
    const id = this.byId.length;
    this.byId.push({ name, type, value: 0n, count: 0, sum: 0, buckets: HISTOGRAM_BUCKETS.map(() => 0) });
    this.byName.set(name, id);
    return id;
  }

  /** Counter: add a positive delta; gauge: add any delta; histogram: bad argument. */
  increment(id: number, delta: bigint): MetricResult {
    const m = this.byId[id];
    if (!m) return 'not-found';
    if (m.type === MetricType.COUNTER) {
      if (delta <= 0n) return 'bad-argument';
      m.value += delta;
    } else if (m.type === MetricType.GAUGE) {
      m.value += delta;
    } else return 'bad-argument';
    return 'ok';
  }

  /** Counter: add; gauge: set; histogram: record an observation. */
  record(id: number, value: bigint): MetricResult {
    const m = this.byId[id];
    if (!m) return 'not-found';
    if (m.type === MetricType.COUNTER) m.value += value;
    else if (m.type === MetricType.GAUGE) m.value = value;
    else {
      const v = Number(value);
      m.count++;
      m.sum += v;
      for (let i = 0; i < HISTOGRAM_BUCKETS.length; i++) if (v <= HISTOGRAM_BUCKETS[i]!) m.buckets[i]!++;
    }
    return 'ok';
  }

  /** Current value of a counter or gauge; 'bad-argument' for a histogram. */
  get(id: number): bigint | MetricResult {
    const m = this.byId[id];
    if (!m) return 'not-found';
    if (m.type === MetricType.HISTOGRAM) return 'bad-argument';
    return m.value;
  }

  /** Value by name (counter/gauge value, histogram count), undefined if never defined. */
  valueOf(name: string): bigint | undefined {
    const id = this.byName.get(name);
    if (id === undefined) return undefined;
    const m = this.byId[id]!;
    return m.type === MetricType.HISTOGRAM ? BigInt(m.count) : m.value;
  }

  /** Every metric, for Prometheus export (histograms with Envoy's default buckets). */
  samples(): MetricSample[] {
    return this.byId.map((m) => {
      const s: MetricSample = { name: m.name, type: TYPE_NAMES[m.type]!, value: m.type === MetricType.HISTOGRAM ? BigInt(m.count) : m.value };
      if (m.type === MetricType.HISTOGRAM) {
        s.histogram = { count: m.count, sum: m.sum, buckets: HISTOGRAM_BUCKETS.map((le, i) => [le, m.buckets[i]!] as [number, number]) };
      }
      return s;
    });
  }
}
