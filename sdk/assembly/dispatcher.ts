// Routes every proxy-wasm callback to the registered plugin and the HttpContext of its context
// id. Stream contexts live from proxy_on_context_create to proxy_on_delete; nothing else keeps
// them, so a finished stream's memory is reclaimed by the collector.
import * as host from "./hostcalls";
import { BufferType, LogLevel } from "./types";
import { HttpContext } from "./http-context";
import { registered } from "./plugin";
import { httpCallHook } from "./cluster";
import { grpcHook, GrpcEvent } from "./grpc";

// Live stream contexts. A plain array with a last-hit cache: callbacks for one stream come in
// runs, the set is small (in-flight streams of one worker), and it is far smaller code than Map.
const contexts = new Array<HttpContext>();
let last: HttpContext | null = null;
// Contexts of finished streams, reused by the next ones: a stream then allocates no context, and
// the collector has none to sweep. Bounded, so a burst of streams leaves no large pool behind.
const spare = new Array<HttpContext>();
const SPARE_MAX = 32;

function find(id: u32): HttpContext | null {
  const l = last;
  if (l !== null && l.id == id) return l;
  for (let i = contexts.length - 1; i >= 0; i--) {
    const c = unchecked(contexts[i]);
    if (c.id == id) { last = c; return c; }
  }
  return null;
}

function noPlugin(): bool {
  host.log(LogLevel.CRITICAL, "no definePlugin() call at top level");
  return false;
}

function readConfig(type: BufferType, size: u32): string {
  if (size == 0) return "";
  const b = host.getBufferBytes(type, 0, size);
  return b === null ? "" : String.UTF8.decode(b);
}

export function onContextCreate(id: u32, parent: u32): void {
  if (parent == 0) return;
  const c = spare.length ? spare.pop().start(id, parent) : new HttpContext(id, parent);
  contexts.push(c);
  last = c;
}

export function onVmStart(root: u32, size: u32): bool { return true; }

export function onConfigure(root: u32, size: u32, apply: bool): bool {
  const p = registered;
  if (p === null) return noPlugin();
  return p.configure(readConfig(BufferType.PLUGIN_CONFIGURATION, size), apply);
}

export function onTick(root: u32): void {
  const p = registered;
  if (p === null) return;
  const t = p.tickHandler;
  if (t !== null) t();
}

export function onRequestHeaders(id: u32, n: u32, eos: bool): i32 {
  const c = find(id);
  const p = registered;
  return c === null || p === null ? 0 : p.requestHeaders(c, eos);
}

export function onRequestBody(id: u32, size: u32, eos: bool): i32 {
  const c = find(id);
  const p = registered;
  return c === null || p === null ? 0 : p.requestBody(c, size, eos);
}

export function onResponseHeaders(id: u32, n: u32, eos: bool): i32 {
  const c = find(id);
  const p = registered;
  return c === null || p === null ? 0 : p.responseHeaders(c, eos);
}

export function onResponseBody(id: u32, size: u32, eos: bool): i32 {
  const c = find(id);
  const p = registered;
  return c === null || p === null ? 0 : p.responseBody(c, size, eos);
}

export function onLog(id: u32): void {
  const c = find(id);
  const p = registered;
  if (c !== null && p !== null) p.streamDone(c);
}

export function onDelete(id: u32): void {
  const n = contexts.length;
  for (let i = n - 1; i >= 0; i--) {
    const c = unchecked(contexts[i]);
    if (c.id == id) {
      unchecked(contexts[i] = contexts[n - 1]);
      contexts.pop();
      if (spare.length < SPARE_MAX) spare.push(c);
      break;
    }
  }
  const l = last;
  if (l !== null && l.id == id) last = null;
}

/** `StreamCallback` bits of the callbacks the plugin handles (all of them before definePlugin). */
export function callbacks(): u32 {
  const p = registered;
  return p === null ? 0x3f : p.callbacks();
}

export function onHttpCallResponse(root: u32, callId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  const h = httpCallHook;
  if (h !== null) h(callId, numHeaders, bodySize, find);
}

/** A gRPC callback (`event`, call or stream `id`, and its count: headers, bytes or status). */
export function onGrpc(event: GrpcEvent, id: u32, n: u32): void {
  const h = grpcHook;
  if (h !== null) h(event, id, n, find);
}
