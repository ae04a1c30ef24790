// Benchmark plugin: on_request_headers reads the 10 request headers by name and adds one.
// Raw ABI, names pre-encoded, host allocations freed: the cost measured is the host's.
import { proxy_get_header_map_value, proxy_add_header_map_value, proc_exit, RET_PTR, RET_SIZE } from "../../_shared/assembly/abi";

export function onAbort(msg: string | null, file: string | null, line: u32, col: u32): void { proc_exit(255); }
export function proxy_abi_version_0_2_1(): void {}
export function proxy_on_memory_allocate(size: usize): usize { return heap.alloc(size); }
export function proxy_on_context_create(ctx: u32, parent: u32): void {}
export function proxy_on_vm_start(root: u32, size: u32): bool { return true; }
export function proxy_on_configure(root: u32, size: u32): bool { return true; }

const NAMES: ArrayBuffer[] = [
  String.UTF8.encode(":method"), String.UTF8.encode(":path"), String.UTF8.encode(":authority"), String.UTF8.encode(":scheme"),
  String.UTF8.encode("user-agent"), String.UTF8.encode("accept"), String.UTF8.encode("accept-encoding"),
  String.UTF8.encode("x-request-id"), String.UTF8.encode("x-forwarded-for"), String.UTF8.encode("cookie"),
];
const ADD_KEY = String.UTF8.encode("x-bench");
const ADD_VAL = String.UTF8.encode("1");
let total: u32 = 0;

export function proxy_on_request_headers(ctx: u32, n: u32, eos: u32): u32 {
  for (let i = 0; i < NAMES.length; i++) {
    const k = unchecked(NAMES[i]);
    if (proxy_get_header_map_value(0, changetype<usize>(k), k.byteLength, RET_PTR, RET_SIZE) == 0) {
      total += load<u32>(RET_SIZE);
      heap.free(load<usize>(RET_PTR));
    }
  }
  proxy_add_header_map_value(0, changetype<usize>(ADD_KEY), ADD_KEY.byteLength, changetype<usize>(ADD_VAL), ADD_VAL.byteLength);
  return 0;
}

/** A bare call: same signature, no host calls. */
export function bare(ctx: u32, n: u32, eos: u32): u32 { return ctx + n + eos; }
