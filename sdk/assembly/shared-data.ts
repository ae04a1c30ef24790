// Shared data helpers: text values and an atomic add built on compare-and-swap, for state
// every VM (worker) of the plugin sees, such as rate-limit counters.
import * as host from "./hostcalls";
import { WasmResult } from "./types";

/** Shared value `key` as text, or null. */
export function getSharedString(key: string): string | null {
  const v = host.getSharedData(key);
  return v === null ? null : String.UTF8.decode(v.value);
}

/** Stores text under `key` unconditionally. */
export function setSharedString(key: string, value: string): void {
  host.setSharedData(key, String.UTF8.encode(value, false), 0);
}

/**
 * Adds `delta` to the decimal counter at `key` (missing = 0) with CAS retries, and returns the
 * new value; -1 when the host kept refusing (more than 32 lost races).
 */
export function sharedAdd(key: string, delta: i64): i64 {
  for (let attempt = 0; attempt < 32; attempt++) {
    const cur = host.getSharedData(key);
    let n: i64 = 0;
    let cas: u32 = 0;
    if (cur !== null) {
      n = I64.parseInt(String.UTF8.decode(cur.value), 10);
      cas = cur.cas;
    }
    n += delta;
    const r = host.setSharedData(key, String.UTF8.encode(n.toString(), false), cas);
    if (r == WasmResult.OK) return n;
    if (r != WasmResult.CAS_MISMATCH) return -1;
  }
  return -1;
}
