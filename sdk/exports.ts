// The proxy-wasm ABI 0.2.1 exports of a plugin module. A plugin's entry file re-exports them:
//
//   export * from "@higress-plugin/sdk/exports";
//
// (asc only exports what the entry file exports). Each export hands over to the dispatcher.
import * as d from "./assembly/dispatcher";
import * as host from "./assembly/hostcalls";
import { GrpcEvent } from "./assembly/grpc";

// Plugins build with asc's `minimal` runtime: the collector runs only when called, and only
// here, at the very end of an export, where no managed value lives in a wasm local (the roots
// are the globals: the plugin, its config, live stream contexts, pending calls).
// A collection marks every live object (the plugin's config too), so it runs after a number of
// streams, or at the first stream end after the heap grew: a stream that left a large body
// behind has it reclaimed at once, while the usual few hundred bytes per stream wait.
let streamsSinceCollect = 0;
const COLLECT_EVERY_STREAMS = 64;
let pagesAfterCollect: i32 = 0;

function collect(): void {
  __collect();
  streamsSinceCollect = 0;
  pagesAfterCollect = memory.size();
}

/** ABI marker: this module speaks proxy-wasm 0.2.1. */
export function proxy_abi_version_0_2_1(): void {}

/** Allocator the host fills returned data into; the SDK frees each block after copying it. */
export function proxy_on_memory_allocate(size: usize): usize { return host.allocate(size); }
/** Same allocator under the name cpp-host looks up first. */
export function malloc(size: usize): usize { return host.allocate(size); }

/** A new context: `parent` 0 = the root (plugin) context, else a stream of that root. */
export function proxy_on_context_create(id: u32, parent: u32): void { d.onContextCreate(id, parent); }
/** VM start: nothing to do (the plugin was declared by top-level code at instantiation). */
export function proxy_on_vm_start(root: u32, size: u32): bool { return d.onVmStart(root, size); }
/** Parses and installs the plugin configuration; false (with a log line) rejects it. */
export function proxy_on_configure(root: u32, size: u32): bool {
  const ok = d.onConfigure(root, size, true);
  collect();
  return ok;
}
/** Parses the configuration without installing it. */
export function proxy_validate_configuration(root: u32, size: u32): bool { return d.onConfigure(root, size, false); }
/** Tick: runs the plugin's tick handler. */
export function proxy_on_tick(root: u32): void {
  d.onTick(root);
  collect();
}
/** Stream callbacks: routed to the stream's HttpContext and the plugin's handlers. */
export function proxy_on_request_headers(id: u32, n: u32, eos: bool): i32 { return d.onRequestHeaders(id, n, eos); }
export function proxy_on_request_body(id: u32, size: u32, eos: bool): i32 { return d.onRequestBody(id, size, eos); }
export function proxy_on_response_headers(id: u32, n: u32, eos: bool): i32 { return d.onResponseHeaders(id, n, eos); }
export function proxy_on_response_body(id: u32, size: u32, eos: bool): i32 { return d.onResponseBody(id, size, eos); }
/** The stream is ending; nothing is deferred, so always true. */
export function proxy_on_done(id: u32): bool { return true; }
/** Runs the stream-done handler. */
export function proxy_on_log(id: u32): void { d.onLog(id); }
/** Drops the stream's context; every few streams, or when the heap grew, collects garbage. */
export function proxy_on_delete(id: u32): void {
  d.onDelete(id);
  if (++streamsSinceCollect >= COLLECT_EVERY_STREAMS || memory.size() > pagesAfterCollect) collect();
}
/** An outbound call answered (or failed: numHeaders 0); runs the caller's callback in its stream. */
export function proxy_on_http_call_response(root: u32, callId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  d.onHttpCallResponse(root, callId, numHeaders, bodySize, numTrailers);
}
/** gRPC callbacks: run in the stream that made the call or opened the stream (see GrpcClient). */
export function proxy_on_grpc_receive_initial_metadata(root: u32, id: u32, n: u32): void { d.onGrpc(GrpcEvent.INITIAL_METADATA, id, n); }
export function proxy_on_grpc_receive(root: u32, id: u32, size: u32): void { d.onGrpc(GrpcEvent.MESSAGE, id, size); }
export function proxy_on_grpc_receive_trailing_metadata(root: u32, id: u32, n: u32): void { d.onGrpc(GrpcEvent.TRAILING_METADATA, id, n); }
export function proxy_on_grpc_close(root: u32, id: u32, status: u32): void { d.onGrpc(GrpcEvent.CLOSE, id, status); }
/**
 * Not proxy-wasm: the stream callbacks this plugin has handlers for, as `StreamCallback` bits. Our
 * host skips the others (a body then streams past the VM); Envoy never asks and calls them all,
 * and the SDK answers those calls with Continue, so the plugin behaves the same on both.
 */
export function higress_plugin_callbacks(): u32 { return d.callbacks(); }
