// The proxy-wasm host functions (module `env`, ABI 0.2.1), each import followed by its wrapper.
// Wrappers take and return AssemblyScript values; an expected status (NOT_FOUND, EMPTY,
// CAS_MISMATCH) becomes "no value" or is returned, so callers never see raw pointers.
// Data the host returns lives in blocks it got from our allocator export: the wrappers copy it
// into managed objects and free the block at once, so nothing leaks across requests.
import { WasmResult, BufferType, MapType, StreamType, MetricType, Header } from "./types";
import { decodeHeaderMap, encodeHeaderMap } from "./header-map";
import { decode, encode } from "./utf8";

// Two scratch words the host writes pointers/sizes into (static memory, never collected).
const RET_A: usize = memory.data(16);
const RET_B: usize = RET_A + 4;
const RET_C: usize = RET_A + 8;

// A static area for the data the host returns (a header value, a property): the host asks our
// allocator export for a block, and a small block comes from here instead of the heap while the
// area is free. The wrappers copy the data out at once and hand the area back.
const RECEIVE_BYTES: usize = 256;
const RECEIVE: usize = memory.data(<i32>RECEIVE_BYTES);
let receiving = false;

/** The allocator the host calls (`proxy_on_memory_allocate`, `malloc`) for data it returns. */
export function allocate(size: usize): usize {
  if (receiving || size > RECEIVE_BYTES) return heap.alloc(size);
  receiving = true;
  return RECEIVE;
}

/** Frees a block the host filled (after its data was copied out). */
function release(ptr: usize): void {
  if (ptr == RECEIVE) receiving = false;
  else if (ptr) heap.free(ptr);
}

/** Copies `size` bytes the host wrote at `ptr` into an ArrayBuffer and frees the host's block. */
function takeBytes(ptr: usize, size: usize): ArrayBuffer {
  const buf = new ArrayBuffer(<i32>size);
  if (size) memory.copy(changetype<usize>(buf), ptr, size);
  release(ptr);
  return buf;
}

/** Same as {@link takeBytes} but decodes UTF-8. */
function takeString(ptr: usize, size: usize): string {
  const s = size ? decode(ptr, size) : "";
  release(ptr);
  return s;
}

@inline function ptrOf(buf: ArrayBuffer): usize { return changetype<usize>(buf); }
@inline function utf8(s: string): ArrayBuffer { return String.UTF8.encode(s, false); }

// Two static areas for the strings most host calls pass (a header name and its value): a short
// string is encoded there, not into a new buffer per call.
const SCRATCH_BYTES: i32 = 256;
const SCRATCH_NAME: usize = memory.data(SCRATCH_BYTES);
const SCRATCH_VALUE: usize = memory.data(SCRATCH_BYTES);
/** Byte length of the string the last {@link arg} call encoded. */
let argLength: i32 = 0;

/**
 * `s` as UTF-8 for a host call: at `scratch` when it fits, else in a new buffer (the collector
 * runs only at the end of a callback, so it outlives the call). Its length is in `argLength`.
 */
function arg(s: string, scratch: usize): usize {
  const n = s.length;
  if (n * 3 <= SCRATCH_BYTES) {
    argLength = <i32>encode(changetype<usize>(s), n, scratch);
    return scratch;
  }
  const b = utf8(s);
  argLength = b.byteLength;
  return ptrOf(b);
}

// ---- logging ---------------------------------------------------------------------------------

@external("env", "proxy_log")
declare function proxy_log(level: i32, msgPtr: usize, msgSize: usize): WasmResult;
/** Writes one log line at `level`. */
export function log(level: i32, message: string): void {
  const m = arg(message, SCRATCH_VALUE);
  proxy_log(level, m, argLength);
}

@external("env", "proxy_get_log_level")
declare function proxy_get_log_level(retLevel: usize): WasmResult;
/** The host's current log level; INFO when the host cannot say. */
export function getLogLevel(): i32 {
  if (proxy_get_log_level(RET_A) != WasmResult.OK) return 2;
  return load<i32>(RET_A);
}

// ---- time and ticks --------------------------------------------------------------------------

@external("env", "proxy_get_current_time_nanoseconds")
declare function proxy_get_current_time_nanoseconds(retTime: usize): WasmResult;
/** Wall-clock time in ns since the epoch, as the host sees it. */
export function getCurrentTimeNanoseconds(): u64 {
  proxy_get_current_time_nanoseconds(RET_A);
  return load<u64>(RET_A);
}

@external("env", "proxy_set_tick_period_milliseconds")
declare function proxy_set_tick_period_milliseconds(periodMs: u32): WasmResult;
/** Asks for `proxy_on_tick` every `periodMs` ms (0 stops ticks). */
export function setTickPeriodMilliseconds(periodMs: u32): WasmResult {
  return proxy_set_tick_period_milliseconds(periodMs);
}

// ---- contexts --------------------------------------------------------------------------------

@external("env", "proxy_set_effective_context")
declare function proxy_set_effective_context(contextId: u32): WasmResult;
/** Makes later host calls act on stream `contextId` (used in HTTP-call callbacks). */
export function setEffectiveContext(contextId: u32): WasmResult {
  return proxy_set_effective_context(contextId);
}

@external("env", "proxy_done")
declare function proxy_done(): WasmResult;
/** Tells the host a deferred `on_done` has finished. */
export function done(): WasmResult { return proxy_done(); }

// ---- buffers ---------------------------------------------------------------------------------

@external("env", "proxy_get_buffer_bytes")
declare function proxy_get_buffer_bytes(type: BufferType, start: u32, maxSize: u32, retPtr: usize, retSize: usize): WasmResult;
/** Bytes `[start, start+maxSize)` of a buffer; null when the buffer is missing or empty. */
export function getBufferBytes(type: BufferType, start: u32, maxSize: u32): ArrayBuffer | null {
  store<usize>(RET_A, 0);
  store<u32>(RET_B, 0);
  const r = proxy_get_buffer_bytes(type, start, maxSize, RET_A, RET_B);
  if (r != WasmResult.OK) return null;
  return takeBytes(load<usize>(RET_A), load<u32>(RET_B));
}

@external("env", "proxy_set_buffer_bytes")
declare function proxy_set_buffer_bytes(type: BufferType, start: u32, size: u32, dataPtr: usize, dataSize: usize): WasmResult;
/** Replaces `size` bytes at `start` of a buffer with `data` (start 0, size = whole = replace all). */
export function setBufferBytes(type: BufferType, start: u32, size: u32, data: ArrayBuffer): WasmResult {
  return proxy_set_buffer_bytes(type, start, size, ptrOf(data), data.byteLength);
}

@external("env", "proxy_get_buffer_status")
declare function proxy_get_buffer_status(type: BufferType, retSize: usize, retFlags: usize): WasmResult;
/** Size of a buffer in bytes; 0 when missing. */
export function getBufferSize(type: BufferType): u32 {
  if (proxy_get_buffer_status(type, RET_A, RET_B) != WasmResult.OK) return 0;
  return load<u32>(RET_A);
}

// ---- header maps -----------------------------------------------------------------------------

@external("env", "proxy_get_header_map_pairs")
declare function proxy_get_header_map_pairs(type: MapType, retPtr: usize, retSize: usize): WasmResult;
/** All pairs of a header map, in order. */
export function getHeaderMapPairs(type: MapType): Array<Header> {
  store<usize>(RET_A, 0);
  store<u32>(RET_B, 0);
  if (proxy_get_header_map_pairs(type, RET_A, RET_B) != WasmResult.OK) return new Array<Header>();
  const ptr = load<usize>(RET_A);
  const size = load<u32>(RET_B);
  const pairs = decodeHeaderMap(ptr, size);
  release(ptr);
  return pairs;
}

@external("env", "proxy_set_header_map_pairs")
declare function proxy_set_header_map_pairs(type: MapType, ptr: usize, size: usize): WasmResult;
/** Replaces a whole header map. */
export function setHeaderMapPairs(type: MapType, pairs: Array<Header>): WasmResult {
  const b = encodeHeaderMap(pairs);
  return proxy_set_header_map_pairs(type, ptrOf(b), b.byteLength);
}

@external("env", "proxy_get_header_map_value")
declare function proxy_get_header_map_value(type: MapType, keyPtr: usize, keySize: usize, retPtr: usize, retSize: usize): WasmResult;
/** Value of header `name` (lower-case); null when absent. */
export function getHeaderMapValue(type: MapType, name: string): string | null {
  const k = arg(name, SCRATCH_NAME);
  const kLen = argLength;
  store<usize>(RET_A, 0);
  store<u32>(RET_B, 0);
  if (proxy_get_header_map_value(type, k, kLen, RET_A, RET_B) != WasmResult.OK) return null;
  return takeString(load<usize>(RET_A), load<u32>(RET_B));
}

@external("env", "proxy_add_header_map_value")
declare function proxy_add_header_map_value(type: MapType, keyPtr: usize, keySize: usize, valPtr: usize, valSize: usize): WasmResult;
/** Appends a header (keeps existing ones with the same name). */
export function addHeaderMapValue(type: MapType, name: string, value: string): WasmResult {
  const k = arg(name, SCRATCH_NAME);
  const kLen = argLength;
  const v = arg(value, SCRATCH_VALUE);
  return proxy_add_header_map_value(type, k, kLen, v, argLength);
}

@external("env", "proxy_replace_header_map_value")
declare function proxy_replace_header_map_value(type: MapType, keyPtr: usize, keySize: usize, valPtr: usize, valSize: usize): WasmResult;
/** Sets a header, replacing every existing value. */
export function replaceHeaderMapValue(type: MapType, name: string, value: string): WasmResult {
  const k = arg(name, SCRATCH_NAME);
  const kLen = argLength;
  const v = arg(value, SCRATCH_VALUE);
  return proxy_replace_header_map_value(type, k, kLen, v, argLength);
}

@external("env", "proxy_remove_header_map_value")
declare function proxy_remove_header_map_value(type: MapType, keyPtr: usize, keySize: usize): WasmResult;
/** Removes every header named `name`. */
export function removeHeaderMapValue(type: MapType, name: string): WasmResult {
  const k = arg(name, SCRATCH_NAME);
  return proxy_remove_header_map_value(type, k, argLength);
}

// ---- stream control --------------------------------------------------------------------------

@external("env", "proxy_continue_stream")
declare function proxy_continue_stream(type: StreamType): WasmResult;
/** Resumes a paused request or response. */
export function continueStream(type: StreamType): WasmResult { return proxy_continue_stream(type); }

@external("env", "proxy_close_stream")
declare function proxy_close_stream(type: StreamType): WasmResult;
/** Resets the stream. */
export function closeStream(type: StreamType): WasmResult { return proxy_close_stream(type); }

@external("env", "proxy_send_local_response")
declare function proxy_send_local_response(status: u32, detailsPtr: usize, detailsSize: usize, bodyPtr: usize, bodySize: usize,
  headersPtr: usize, headersSize: usize, grpcStatus: i32): WasmResult;
/** Answers the stream with this response instead of proxying it. */
export function sendLocalResponse(status: u32, details: string, body: ArrayBuffer, headers: Array<Header>, grpcStatus: i32 = -1): WasmResult {
  const d = utf8(details);
  const h = encodeHeaderMap(headers);
  return proxy_send_local_response(status, ptrOf(d), d.byteLength, ptrOf(body), body.byteLength, ptrOf(h), h.byteLength, grpcStatus);
}

@external("env", "proxy_get_status")
declare function proxy_get_status(retCode: usize, retMsgPtr: usize, retMsgSize: usize): WasmResult;
/** gRPC-style status of the last call response (code only). */
export function getStatusCode(): u32 {
  store<usize>(RET_B, 0);
  if (proxy_get_status(RET_A, RET_B, RET_C) != WasmResult.OK) return 0;
  release(load<usize>(RET_B));
  return load<u32>(RET_A);
}
/** The message of the last call's status (a gRPC error's message). */
export function getStatusMessage(): string {
  store<usize>(RET_B, 0);
  store<u32>(RET_C, 0);
  if (proxy_get_status(RET_A, RET_B, RET_C) != WasmResult.OK) return "";
  return takeString(load<usize>(RET_B), load<u32>(RET_C));
}

// ---- outbound HTTP calls ---------------------------------------------------------------------

@external("env", "proxy_http_call")
declare function proxy_http_call(upPtr: usize, upSize: usize, hPtr: usize, hSize: usize, bPtr: usize, bSize: usize,
  tPtr: usize, tSize: usize, timeoutMs: u32, retId: usize): WasmResult;
/** Starts an HTTP call to cluster `upstream`; returns the call id, or 0 when the host refused it. */
export function httpCall(upstream: string, headers: Array<Header>, body: ArrayBuffer, trailers: Array<Header>, timeoutMs: u32): u32 {
  const u = utf8(upstream);
  const h = encodeHeaderMap(headers);
  const t = encodeHeaderMap(trailers);
  store<u32>(RET_A, 0);
  const r = proxy_http_call(ptrOf(u), u.byteLength, ptrOf(h), h.byteLength, ptrOf(body), body.byteLength, ptrOf(t), t.byteLength, timeoutMs, RET_A);
  if (r != WasmResult.OK) return 0;
  return load<u32>(RET_A);
}

// ---- outbound gRPC ---------------------------------------------------------------------------

@external("env", "proxy_grpc_call")
declare function proxy_grpc_call(upPtr: usize, upSize: usize, sPtr: usize, sSize: usize, mPtr: usize, mSize: usize,
  mdPtr: usize, mdSize: usize, msgPtr: usize, msgSize: usize, timeoutMs: u32, retId: usize): WasmResult;
/** Starts a unary gRPC call `/<service>/<method>` to cluster `upstream`; returns the call id, or 0 when the host refused it. */
export function grpcCall(upstream: string, service: string, method: string, metadata: Array<Header>, message: ArrayBuffer, timeoutMs: u32): u32 {
  const u = utf8(upstream);
  const s = utf8(service);
  const m = utf8(method);
  const md = encodeHeaderMap(metadata);
  store<u32>(RET_A, 0);
  const r = proxy_grpc_call(ptrOf(u), u.byteLength, ptrOf(s), s.byteLength, ptrOf(m), m.byteLength, ptrOf(md), md.byteLength,
    ptrOf(message), message.byteLength, timeoutMs, RET_A);
  return r == WasmResult.OK ? load<u32>(RET_A) : 0;
}

@external("env", "proxy_grpc_stream")
declare function proxy_grpc_stream(upPtr: usize, upSize: usize, sPtr: usize, sSize: usize, mPtr: usize, mSize: usize,
  mdPtr: usize, mdSize: usize, retId: usize): WasmResult;
/** Opens a gRPC stream `/<service>/<method>` to cluster `upstream`; returns its id, or 0 when the host refused it. */
export function grpcStream(upstream: string, service: string, method: string, metadata: Array<Header>): u32 {
  const u = utf8(upstream);
  const s = utf8(service);
  const m = utf8(method);
  const md = encodeHeaderMap(metadata);
  store<u32>(RET_A, 0);
  const r = proxy_grpc_stream(ptrOf(u), u.byteLength, ptrOf(s), s.byteLength, ptrOf(m), m.byteLength, ptrOf(md), md.byteLength, RET_A);
  return r == WasmResult.OK ? load<u32>(RET_A) : 0;
}

@external("env", "proxy_grpc_send")
declare function proxy_grpc_send(id: u32, msgPtr: usize, msgSize: usize, endStream: u32): WasmResult;
/** Sends one message on gRPC stream `id`; `endStream` half-closes it after. */
export function grpcSend(id: u32, message: ArrayBuffer, endStream: bool): WasmResult {
  return proxy_grpc_send(id, ptrOf(message), message.byteLength, endStream ? 1 : 0);
}

@external("env", "proxy_grpc_cancel")
declare function proxy_grpc_cancel(id: u32): WasmResult;
/** Cancels a gRPC call or resets a stream: no callback follows. */
export function grpcCancel(id: u32): WasmResult { return proxy_grpc_cancel(id); }

@external("env", "proxy_grpc_close")
declare function proxy_grpc_close(id: u32): WasmResult;
/** Closes a gRPC call, or half-closes a stream (its answers still arrive). */
export function grpcClose(id: u32): WasmResult { return proxy_grpc_close(id); }

// ---- shared data -----------------------------------------------------------------------------

@external("env", "proxy_get_shared_data")
declare function proxy_get_shared_data(kPtr: usize, kSize: usize, retPtr: usize, retSize: usize, retCas: usize): WasmResult;
/** A shared-data value with the CAS token to update it. */
export class SharedValue {
  constructor(public value: ArrayBuffer, public cas: u32) {}
}
/** Reads shared data `key`; null when absent. */
export function getSharedData(key: string): SharedValue | null {
  const k = utf8(key);
  store<usize>(RET_A, 0);
  store<u32>(RET_B, 0);
  store<u32>(RET_C, 0);
  if (proxy_get_shared_data(ptrOf(k), k.byteLength, RET_A, RET_B, RET_C) != WasmResult.OK) return null;
  const cas = load<u32>(RET_C);
  return new SharedValue(takeBytes(load<usize>(RET_A), load<u32>(RET_B)), cas);
}

@external("env", "proxy_set_shared_data")
declare function proxy_set_shared_data(kPtr: usize, kSize: usize, vPtr: usize, vSize: usize, cas: u32): WasmResult;
/** Writes shared data; with `cas` != 0 only if nobody wrote since (else CAS_MISMATCH). */
export function setSharedData(key: string, value: ArrayBuffer, cas: u32 = 0): WasmResult {
  const k = utf8(key);
  return proxy_set_shared_data(ptrOf(k), k.byteLength, ptrOf(value), value.byteLength, cas);
}

// ---- metrics ---------------------------------------------------------------------------------

@external("env", "proxy_define_metric")
declare function proxy_define_metric(type: MetricType, namePtr: usize, nameSize: usize, retId: usize): WasmResult;
/** Defines (or finds) a metric; returns its id, or 0xffffffff when the host refused. */
export function defineMetric(type: MetricType, name: string): u32 {
  const n = utf8(name);
  if (proxy_define_metric(type, ptrOf(n), n.byteLength, RET_A) != WasmResult.OK) return u32.MAX_VALUE;
  return load<u32>(RET_A);
}

@external("env", "proxy_increment_metric")
declare function proxy_increment_metric(id: u32, delta: i64): WasmResult;
/** Adds `delta` to a counter or gauge. */
export function incrementMetric(id: u32, delta: i64): WasmResult { return proxy_increment_metric(id, delta); }

@external("env", "proxy_record_metric")
declare function proxy_record_metric(id: u32, value: u64): WasmResult;
/** Sets a gauge or records a histogram value. */
export function recordMetric(id: u32, value: u64): WasmResult { return proxy_record_metric(id, value); }

@external("env", "proxy_get_metric")
declare function proxy_get_metric(id: u32, retValue: usize): WasmResult;
/** Current value of a counter or gauge. */
export function getMetric(id: u32): u64 {
  if (proxy_get_metric(id, RET_A) != WasmResult.OK) return 0;
  return load<u64>(RET_A);
}

// ---- properties ------------------------------------------------------------------------------

@external("env", "proxy_get_property")
declare function proxy_get_property(pathPtr: usize, pathSize: usize, retPtr: usize, retSize: usize): WasmResult;
/** Encodes a dotted property name (`request.path`) as the ABI's NUL-separated path. */
export function propertyPath(dotted: string): ArrayBuffer {
  const b = utf8(dotted);
  const p = changetype<usize>(b);
  for (let i = 0, n = b.byteLength; i < n; i++) if (load<u8>(p + i) == 0x2e) store<u8>(p + i, 0);
  return b;
}

/** Raw property value at `path` (NUL-separated, see {@link propertyPath}); null when the host has none. */
export function getProperty(p: ArrayBuffer): ArrayBuffer | null {
  store<usize>(RET_A, 0);
  store<u32>(RET_B, 0);
  if (proxy_get_property(ptrOf(p), p.byteLength, RET_A, RET_B) != WasmResult.OK) return null;
  return takeBytes(load<usize>(RET_A), load<u32>(RET_B));
}

@external("env", "proxy_set_property")
declare function proxy_set_property(pathPtr: usize, pathSize: usize, valPtr: usize, valSize: usize): WasmResult;
/** Sets a property (NUL-separated path). */
export function setProperty(p: ArrayBuffer, value: ArrayBuffer): WasmResult {
  return proxy_set_property(ptrOf(p), p.byteLength, ptrOf(value), value.byteLength);
}

// ---- foreign functions -----------------------------------------------------------------------

@external("env", "proxy_call_foreign_function")
declare function proxy_call_foreign_function(nPtr: usize, nSize: usize, aPtr: usize, aSize: usize, retPtr: usize, retSize: usize): WasmResult;
/** Calls a host-defined function by name; null when it is unknown or failed. */
export function callForeignFunction(name: string, args: ArrayBuffer): ArrayBuffer | null {
  const n = utf8(name);
  store<usize>(RET_A, 0);
  store<u32>(RET_B, 0);
  if (proxy_call_foreign_function(ptrOf(n), n.byteLength, ptrOf(args), args.byteLength, RET_A, RET_B) != WasmResult.OK) return null;
  return takeBytes(load<usize>(RET_A), load<u32>(RET_B));
}
