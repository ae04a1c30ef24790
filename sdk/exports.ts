// The proxy-wasm ABI 0.2.1 exports of a plugin module. A plugin's entry file re-exports them:
//
//   export * from "@higress-plugin/sdk/exports";
//
// (asc only exports what the entry file exports). Each export hands over to the dispatcher.
import * as d from "./assembly/dispatcher";

// Plugins build with asc's `minimal` runtime: the collector runs only when called, and only
// here, at the very end of an export, where no managed value lives in a wasm local (the roots
// are the globals: the plugin, its config, live stream contexts, pending calls).
let streamsSinceCollect = 0;
const COLLECT_EVERY_STREAMS = 16;

/** ABI marker: this module speaks proxy-wasm 0.2.1. */
export function proxy_abi_version_0_2_1(): void {}

/** Allocator the host fills returned data into; the SDK frees each block after copying it. */
export function proxy_on_memory_allocate(size: usize): usize { return heap.alloc(size); }
/** Same allocator under the name cpp-host looks up first. */
export function malloc(size: usize): usize { return heap.alloc(size); }

export function proxy_on_context_create(id: u32, parent: u32): void { d.onContextCreate(id, parent); }
export function proxy_on_vm_start(root: u32, size: u32): bool { return d.onVmStart(root, size); }
export function proxy_on_configure(root: u32, size: u32): bool {
  const ok = d.onConfigure(root, size, true);
  __collect();
  return ok;
}
export function proxy_validate_configuration(root: u32, size: u32): bool { return d.onConfigure(root, size, false); }
export function proxy_on_tick(root: u32): void {
  d.onTick(root);
  __collect();
}
export function proxy_on_request_headers(id: u32, n: u32, eos: bool): i32 { return d.onRequestHeaders(id, n, eos); }
export function proxy_on_request_body(id: u32, size: u32, eos: bool): i32 { return d.onRequestBody(id, size, eos); }
export function proxy_on_response_headers(id: u32, n: u32, eos: bool): i32 { return d.onResponseHeaders(id, n, eos); }
export function proxy_on_response_body(id: u32, size: u32, eos: bool): i32 { return d.onResponseBody(id, size, eos); }
export function proxy_on_done(id: u32): bool { return true; }
export function proxy_on_log(id: u32): void { d.onLog(id); }
export function proxy_on_delete(id: u32): void {
  d.onDelete(id);
  if (++streamsSinceCollect >= COLLECT_EVERY_STREAMS) {
    streamsSinceCollect = 0;
    __collect();
  }
}
export function proxy_on_http_call_response(root: u32, callId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  d.onHttpCallResponse(root, callId, numHeaders, bodySize, numTrailers);
}
