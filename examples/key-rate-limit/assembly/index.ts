// key-rate-limit: per-key request limits (key from a header or a query parameter), as Higress's
// key-rate-limit. Counters live in shared data, so every VM (worker) of the plugin counts
// against the same budget: one fixed window per key, refilled when the window turns (by the
// first request of the new window, and by a tick every second so idle keys are reset too).
// Over the limit: 429 with x-ratelimit-limit / x-ratelimit-remaining / retry-after.
import { definePlugin, Plugin, HttpContext, JsonObject, Action, Header, queryParam, configError, getCurrentTimeNanoseconds,
  getSharedData, setSharedData, WasmResult } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Limit {
  constructor(public key: string, public count: i64, public windowMs: i64) {}
}

class Config {
  /** Prefix of this config's shared-data keys: stable across VMs (a hash of the config text). */
  id: string = "";
  byHeader: string = "";
  byParam: string = "";
  limits: Map<string, Limit> = new Map<string, Limit>();
}

const WINDOWS: StaticArray<string> = ["query_per_second", "query_per_minute", "query_per_hour", "query_per_day"];
const WINDOW_MS: StaticArray<i64> = [1000, 60000, 3600000, 86400000];

function fnv1a(s: string): u32 {
  let h: u32 = 2166136261;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h *= 16777619; }
  return h;
}

function parseConfig(json: JsonObject, config: Config): void {
  config.id = "key-rate-limit/" + fnv1a(json.toString()).toString(16) + "/";
  config.byHeader = json.getString("limit_by_header").toLowerCase();
  config.byParam = json.getString("limit_by_param");
  if ((config.byHeader.length > 0) == (config.byParam.length > 0)) configError("exactly one of limit_by_header and limit_by_param is required");
  const keys = json.getArray("limit_keys");
  if (keys === null || keys.length == 0) { configError("limit_keys is required"); return; }
  for (let i = 0; i < keys.length; i++) {
    const k = keys.objectAt(i);
    if (k === null) return;
    // Keys may be written as numbers in YAML (key: 102234).
    const raw = k.get("key");
    const key = raw !== null && raw.asString() === null ? raw.toString() : k.requireString("key");
    let found = 0;
    for (let w = 0; w < WINDOWS.length; w++) {
      if (!k.has(WINDOWS[w])) continue;
      const n = k.getInt(WINDOWS[w]);
      if (n <= 0) configError(k.fieldPath(WINDOWS[w]) + " must be a positive integer");
      config.limits.set(key, new Limit(key, n, WINDOW_MS[w]));
      found++;
    }
    if (found != 1) configError(k.path + ": exactly one of query_per_second, query_per_minute, query_per_hour, query_per_day is required");
  }
}

@inline function nowMs(): i64 { return <i64>(getCurrentTimeNanoseconds() / 1000000); }

/** Window of the entry parseEntry() read last (AssemblyScript has no tuples). */
let lastWindow: i64 = 0;
/** Parses a stored "window:tokens" entry: returns the tokens, sets lastWindow. */
function parseEntry(v: ArrayBuffer): i64 {
  const s = String.UTF8.decode(v);
  const colon = s.indexOf(":", 0);
  lastWindow = I64.parseInt(s.substring(0, colon), 10);
  return I64.parseInt(s.substring(colon + 1, s.length), 10);
}

function entry(window: i64, tokens: i64): ArrayBuffer {
  return String.UTF8.encode(window.toString() + ":" + tokens.toString());
}

/** Takes one token for `limit`; returns the tokens left, or -1 when there were none. */
function take(config: Config, limit: Limit): i64 {
  const key = config.id + limit.key;
  const window = nowMs() / limit.windowMs;
  for (let attempt = 0; attempt < 16; attempt++) {
    const cur = getSharedData(key);
    let tokens = limit.count;
    let cas: u32 = 0;
    if (cur !== null) {
      cas = cur.cas;
      const t = parseEntry(cur.value);
      if (lastWindow == window) tokens = t;
    }
    if (tokens <= 0) return -1;
    const r = setSharedData(key, entry(window, tokens - 1), cas);
    if (r == WasmResult.OK) return tokens - 1;
    if (r != WasmResult.CAS_MISMATCH) return tokens - 1; // host trouble: fail open rather than block everyone
  }
  return -1;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const value = config.byHeader.length ? ctx.getRequestHeader(config.byHeader) : queryParam(ctx.path(), config.byParam);
  if (value === null || !config.limits.has(value)) return Action.CONTINUE;
  const limit = config.limits.get(value);
  const left = take(config, limit);
  if (left < 0) {
    const retry = (limit.windowMs - nowMs() % limit.windowMs + 999) / 1000;
    const h = new Array<Header>();
    h.push(new Header("x-ratelimit-limit", limit.count.toString()));
    h.push(new Header("x-ratelimit-remaining", "0"));
    h.push(new Header("retry-after", retry.toString()));
    h.push(new Header("content-type", "text/plain; charset=utf-8"));
    ctx.sendLocalResponse(429, "Too many requests, rate limited by key-rate-limit\n", h, "key-rate-limit");
    return Action.PAUSE;
  }
  ctx.setContext<string>("limit", limit.count.toString());
  ctx.setContext<string>("remaining", left.toString());
  return Action.CONTINUE;
}

function onResponseHeaders(ctx: HttpContext, config: Config): Action {
  if (!ctx.hasContext("limit")) return Action.CONTINUE;
  ctx.replaceResponseHeader("x-ratelimit-limit", ctx.getContext<string>("limit", ""));
  ctx.replaceResponseHeader("x-ratelimit-remaining", ctx.getContext<string>("remaining", ""));
  return Action.CONTINUE;
}

/** Every second: refill the buckets whose window has turned, so the next request finds them full. */
function refill(config: Config | null): void {
  if (config === null) return;
  const now = nowMs();
  const limits = config.limits.values();
  for (let i = 0; i < limits.length; i++) {
    const limit = limits[i];
    const key = config.id + limit.key;
    const cur = getSharedData(key);
    if (cur === null) continue;
    parseEntry(cur.value);
    const window = now / limit.windowMs;
    if (lastWindow != window) setSharedData(key, entry(window, limit.count), cur.cas);
  }
}

/** The plugin, for the tick to reach every config (global and rules). */
let plugin: Plugin<Config> | null = null;

function onTick(): void {
  const p = plugin;
  if (p === null) return;
  refill(p.global);
  for (let i = 0; i < p.ruleConfigs.length; i++) refill(p.ruleConfigs[i]);
}

plugin = definePlugin<Config>("key-rate-limit", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders)
  .onHttpResponseHeaders(onResponseHeaders)
  .onTick(1000, onTick);
