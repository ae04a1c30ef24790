// Plugin metrics (counters, gauges, histograms). Labels are folded into the metric name the
// way Envoy stats carry them — `name.k1.v1.k2.v2` — and each name's id is defined once.
import { decimal } from "./decimal";
import * as host from "./hostcalls";
import { MetricType } from "./types";

let ids: Map<string, u32> | null = null;

function idOf(type: MetricType, name: string): u32 {
  let m = ids;
  if (m === null) ids = m = new Map<string, u32>();
  const key = decimal(type) + name;
  if (m.has(key)) return m.get(key);
  const id = host.defineMetric(type, name);
  m.set(key, id);
  return id;
}

/** `name` with label pairs appended (`["route","a"]` → `name.route.a`); pairs must come in twos. */
export function metricName(name: string, labels: Array<string> | null = null): string {
  if (labels === null) return name;
  let out = name;
  for (let i = 0; i + 1 < labels.length; i += 2) out += "." + labels[i] + "." + labels[i + 1];
  return out;
}

/** A monotonically increasing count. */
export class Counter {
  constructor(public name: string) {}
  /** Adds `delta` (default 1) to the counter with these labels. */
  increment(delta: i64 = 1, labels: Array<string> | null = null): void {
    host.incrementMetric(idOf(MetricType.COUNTER, metricName(this.name, labels)), delta);
  }
}

/** A value that goes up and down. */
export class Gauge {
  constructor(public name: string) {}
  set(value: i64, labels: Array<string> | null = null): void {
    host.recordMetric(idOf(MetricType.GAUGE, metricName(this.name, labels)), <u64>value);
  }
  add(delta: i64, labels: Array<string> | null = null): void {
    host.incrementMetric(idOf(MetricType.GAUGE, metricName(this.name, labels)), delta);
  }
}

/** A distribution of values (latencies, sizes). */
export class Histogram {
  constructor(public name: string) {}
  record(value: u64, labels: Array<string> | null = null): void {
    host.recordMetric(idOf(MetricType.HISTOGRAM, metricName(this.name, labels)), value);
  }
}
