// Numbered enums of the proxy-wasm ABI, spelled as in spec/abi.json (test/sdk/abi-enums.test.ts
// checks every value against that file, so the SDK and the host can never drift apart).

/** Status every host function returns. */
export enum WasmResult {
  OK = 0,
  NOT_FOUND = 1,
  BAD_ARGUMENT = 2,
  SERIALIZATION_FAILURE = 3,
  PARSE_FAILURE = 4,
  BAD_EXPRESSION = 5,
  INVALID_MEMORY_ACCESS = 6,
  EMPTY = 7,
  CAS_MISMATCH = 8,
  RESULT_MISMATCH = 9,
  INTERNAL_FAILURE = 10,
  BROKEN_CONNECTION = 11,
  UNIMPLEMENTED = 12,
}

/** Log levels (`proxy_log`, `proxy_get_log_level`). */
export enum LogLevel {
  TRACE = 0,
  DEBUG = 1,
  INFO = 2,
  WARN = 3,
  ERROR = 4,
  CRITICAL = 5,
}

/** What a headers callback returns to the host. */
export enum FilterHeadersStatus {
  CONTINUE = 0,
  STOP_ITERATION = 1,
  CONTINUE_AND_END_STREAM = 2,
  STOP_ALL_ITERATION_AND_BUFFER = 3,
  STOP_ALL_ITERATION_AND_WATERMARK = 4,
}

/** What a body callback returns to the host. */
export enum FilterDataStatus {
  CONTINUE = 0,
  STOP_ITERATION_AND_BUFFER = 1,
  STOP_ITERATION_AND_WATERMARK = 2,
  STOP_ITERATION_NO_BUFFER = 3,
}

/** What a trailers callback returns to the host. */
export enum FilterTrailersStatus {
  CONTINUE = 0,
  STOP_ITERATION = 1,
}

/**
 * What a plugin handler returns: go on, or hold the stream until the plugin resumes it
 * (`ctx.resume()`), denies it (`ctx.sendLocalResponse`) or, for a buffered body handler, until
 * the whole body is there.
 */
export enum Action {
  CONTINUE = 0,
  PAUSE = 1,
}

/** Buffers a plugin can read (`proxy_get_buffer_bytes`). */
export enum BufferType {
  HTTP_REQUEST_BODY = 0,
  HTTP_RESPONSE_BODY = 1,
  DOWNSTREAM_DATA = 2,
  UPSTREAM_DATA = 3,
  HTTP_CALL_RESPONSE_BODY = 4,
  GRPC_RECEIVE_BUFFER = 5,
  VM_CONFIGURATION = 6,
  PLUGIN_CONFIGURATION = 7,
  CALL_DATA = 8,
}

/** Header maps a plugin can read and write. */
export enum MapType {
  HTTP_REQUEST_HEADERS = 0,
  HTTP_REQUEST_TRAILERS = 1,
  HTTP_RESPONSE_HEADERS = 2,
  HTTP_RESPONSE_TRAILERS = 3,
  GRPC_RECEIVE_INITIAL_METADATA = 4,
  GRPC_RECEIVE_TRAILING_METADATA = 5,
  HTTP_CALL_RESPONSE_HEADERS = 6,
  HTTP_CALL_RESPONSE_TRAILERS = 7,
}

/** Stream directions for `proxy_continue_stream` / `proxy_close_stream`. */
export enum StreamType {
  HTTP_REQUEST = 0,
  HTTP_RESPONSE = 1,
  DOWNSTREAM = 2,
  UPSTREAM = 3,
}

/**
 * Stream callbacks as bits, for `higress_plugin_callbacks` (sdk/exports.ts): not proxy-wasm, an
 * extension our host reads to skip callbacks a plugin has no handler for.
 */
export enum StreamCallback {
  REQUEST_HEADERS = 1,
  REQUEST_BODY = 2,
  REQUEST_TRAILERS = 4,
  RESPONSE_HEADERS = 8,
  RESPONSE_BODY = 16,
  RESPONSE_TRAILERS = 32,
  /** Set when `proxy_on_done` and `proxy_on_log` have nothing to do (inverted: a module built
   * before this bit existed never sets it, and keeps its stream-end callbacks). */
  NO_STREAM_DONE = 64,
}

/** Metric kinds (`proxy_define_metric`). */
export enum MetricType {
  COUNTER = 0,
  GAUGE = 1,
  HISTOGRAM = 2,
}

/** Which side closed a TCP connection. */
export enum PeerType {
  UNKNOWN = 0,
  LOCAL = 1,
  REMOTE = 2,
}

/** One header (or trailer, or HTTP-call header): lower-case name and value. */
export class Header {
  constructor(public name: string, public value: string) {}
}
