// Raw proxy-wasm imports and tiny helpers for the host's test plugins. Deliberately NOT the SDK:
// these plugins exercise the host ABI directly, one host call at a time.

@external("env", "proxy_log") export declare function proxy_log(level: i32, ptr: usize, len: usize): i32;
@external("env", "proxy_get_log_level") export declare function proxy_get_log_level(ret: usize): i32;
@external("env", "proxy_get_current_time_nanoseconds") export declare function proxy_get_current_time_nanoseconds(ret: usize): i32;
@external("env", "proxy_set_tick_period_milliseconds") export declare function proxy_set_tick_period_milliseconds(ms: u32): i32;
@external("env", "proxy_done") export declare function proxy_done(): i32;
@external("env", "proxy_set_effective_context") export declare function proxy_set_effective_context(id: u32): i32;
@external("env", "proxy_get_buffer_bytes") export declare function proxy_get_buffer_bytes(t: i32, start: u32, max: u32, retPtr: usize, retSize: usize): i32;
@external("env", "proxy_set_buffer_bytes") export declare function proxy_set_buffer_bytes(t: i32, start: u32, size: u32, ptr: usize, len: usize): i32;
@external("env", "proxy_get_buffer_status") export declare function proxy_get_buffer_status(t: i32, retSize: usize, retFlags: usize): i32;
@external("env", "proxy_get_header_map_size") export declare function proxy_get_header_map_size(t: i32, retSize: usize): i32;
@external("env", "proxy_get_header_map_pairs") export declare function proxy_get_header_map_pairs(t: i32, retPtr: usize, retSize: usize): i32;
@external("env", "proxy_set_header_map_pairs") export declare function proxy_set_header_map_pairs(t: i32, ptr: usize, len: usize): i32;
@external("env", "proxy_get_header_map_value") export declare function proxy_get_header_map_value(t: i32, kp: usize, kl: usize, retPtr: usize, retSize: usize): i32;
@external("env", "proxy_add_header_map_value") export declare function proxy_add_header_map_value(t: i32, kp: usize, kl: usize, vp: usize, vl: usize): i32;
@external("env", "proxy_replace_header_map_value") export declare function proxy_replace_header_map_value(t: i32, kp: usize, kl: usize, vp: usize, vl: usize): i32;
@external("env", "proxy_remove_header_map_value") export declare function proxy_remove_header_map_value(t: i32, kp: usize, kl: usize): i32;
@external("env", "proxy_continue_stream") export declare function proxy_continue_stream(t: i32): i32;
@external("env", "proxy_close_stream") export declare function proxy_close_stream(t: i32): i32;
@external("env", "proxy_get_status") export declare function proxy_get_status(code: usize, msgPtr: usize, msgSize: usize): i32;
@external("env", "proxy_send_local_response") export declare function proxy_send_local_response(status: u32, dp: usize, dl: usize, bp: usize, bl: usize, hp: usize, hl: usize, grpc: i32): i32;
@external("env", "proxy_http_call") export declare function proxy_http_call(up: usize, ul: usize, hp: usize, hl: usize, bp: usize, bl: usize, tp: usize, tl: usize, timeout: u32, retId: usize): i32;
@external("env", "proxy_grpc_call") export declare function proxy_grpc_call(up: usize, ul: usize, sp: usize, sl: usize, mp: usize, ml: usize, ip: usize, il: usize, msgp: usize, msgl: usize, timeout: u32, retId: usize): i32;
@external("env", "proxy_grpc_stream") export declare function proxy_grpc_stream(up: usize, ul: usize, sp: usize, sl: usize, mp: usize, ml: usize, ip: usize, il: usize, retId: usize): i32;
@external("env", "proxy_grpc_send") export declare function proxy_grpc_send(id: u32, p: usize, l: usize, end: u32): i32;
@external("env", "proxy_grpc_cancel") export declare function proxy_grpc_cancel(id: u32): i32;
@external("env", "proxy_grpc_close") export declare function proxy_grpc_close(id: u32): i32;
@external("env", "proxy_set_shared_data") export declare function proxy_set_shared_data(kp: usize, kl: usize, vp: usize, vl: usize, cas: u32): i32;
@external("env", "proxy_get_shared_data") export declare function proxy_get_shared_data(kp: usize, kl: usize, retPtr: usize, retSize: usize, retCas: usize): i32;
@external("env", "proxy_register_shared_queue") export declare function proxy_register_shared_queue(np: usize, nl: usize, retId: usize): i32;
@external("env", "proxy_resolve_shared_queue") export declare function proxy_resolve_shared_queue(vp: usize, vl: usize, np: usize, nl: usize, retId: usize): i32;
@external("env", "proxy_enqueue_shared_queue") export declare function proxy_enqueue_shared_queue(id: u32, p: usize, l: usize): i32;
@external("env", "proxy_dequeue_shared_queue") export declare function proxy_dequeue_shared_queue(id: u32, retPtr: usize, retSize: usize): i32;
@external("env", "proxy_define_metric") export declare function proxy_define_metric(t: i32, np: usize, nl: usize, retId: usize): i32;
@external("env", "proxy_increment_metric") export declare function proxy_increment_metric(id: u32, delta: i64): i32;
@external("env", "proxy_record_metric") export declare function proxy_record_metric(id: u32, value: u64): i32;
@external("env", "proxy_get_metric") export declare function proxy_get_metric(id: u32, ret: usize): i32;
@external("env", "proxy_get_property") export declare function proxy_get_property(pp: usize, pl: usize, retPtr: usize, retSize: usize): i32;
@external("env", "proxy_set_property") export declare function proxy_set_property(pp: usize, pl: usize, vp: usize, vl: usize): i32;
@external("env", "proxy_call_foreign_function") export declare function proxy_call_foreign_function(np: usize, nl: usize, ap: usize, al: usize, retPtr: usize, retSize: usize): i32;
@external("wasi_snapshot_preview1", "proc_exit") export declare function proc_exit(code: i32): void;
@external("wasi_snapshot_preview1", "fd_write") export declare function fd_write(fd: i32, iovs: usize, n: usize, written: usize): i32;
@external("wasi_snapshot_preview1", "environ_sizes_get") export declare function environ_sizes_get(count: usize, size: usize): i32;
@external("wasi_snapshot_preview1", "environ_get") export declare function environ_get(env: usize, buf: usize): i32;
@external("wasi_snapshot_preview1", "clock_time_get") export declare function clock_time_get(id: i32, precision: i64, ret: usize): i32;
@external("wasi_snapshot_preview1", "random_get") export declare function random_get(buf: usize, len: usize): i32;

/** abort → proc_exit, as a plugin built for Envoy does (the host has no env.abort). */
export function onAbort(msg: string | null, file: string | null, line: u32, col: u32): void { proc_exit(255); }

// Scratch cells for host return values.
export const RET_PTR: usize = heap.alloc(8);
export const RET_SIZE: usize = heap.alloc(8);
export const RET_X: usize = heap.alloc(8);

export function alloc(size: usize): usize { return heap.alloc(size); }

export function enc(s: string): ArrayBuffer { return String.UTF8.encode(s); }
export function ptr(b: ArrayBuffer): usize { return changetype<usize>(b); }
export function len(b: ArrayBuffer): usize { return <usize>b.byteLength; }

export function log(level: i32, s: string): void { const b = enc(s); proxy_log(level, ptr(b), len(b)); }
export function info(s: string): void { log(2, s); }

/** Reads RET_PTR/RET_SIZE as a string and frees the host allocation. */
export function takeString(): string {
  const p = load<usize>(RET_PTR);
  const n = load<u32>(RET_SIZE);
  if (p == 0 || n == 0) return "";
  const s = String.UTF8.decodeUnsafe(p, n);
  heap.free(p);
  return s;
}

/** Reads RET_PTR/RET_SIZE as raw bytes (copied) and frees the host allocation. */
export function takeBytes(): Uint8Array {
  const p = load<usize>(RET_PTR);
  const n = load<u32>(RET_SIZE);
  const out = new Uint8Array(n);
  if (p != 0 && n != 0) { memory.copy(out.dataStart, p, n); heap.free(p); }
  return out;
}

export function getBuffer(t: i32): string {
  store<usize>(RET_PTR, 0); store<u32>(RET_SIZE, 0);
  const st = proxy_get_buffer_bytes(t, 0, 0x7fffffff, RET_PTR, RET_SIZE);
  if (st != 0) return "<status " + st.toString() + ">";
  return takeString();
}

export function getHeader(t: i32, name: string): string | null {
  const k = enc(name);
  store<usize>(RET_PTR, 0); store<u32>(RET_SIZE, 0);
  const st = proxy_get_header_map_value(t, ptr(k), len(k), RET_PTR, RET_SIZE);
  if (st != 0) return null;
  return takeString();
}

export function addHeader(t: i32, name: string, value: string): i32 {
  const k = enc(name); const v = enc(value);
  return proxy_add_header_map_value(t, ptr(k), len(k), ptr(v), len(v));
}

export function replaceHeader(t: i32, name: string, value: string): i32 {
  const k = enc(name); const v = enc(value);
  return proxy_replace_header_map_value(t, ptr(k), len(k), ptr(v), len(v));
}

/** Encodes pairs in the proxy-wasm header-map format. */
export function encodePairs(pairs: string[][]): ArrayBuffer {
  let size: i32 = 4 + pairs.length * 8;
  const keys = new Array<ArrayBuffer>(); const vals = new Array<ArrayBuffer>();
  for (let i = 0; i < pairs.length; i++) {
    const k = enc(pairs[i][0]); const v = enc(pairs[i][1]);
    keys.push(k); vals.push(v);
    size += k.byteLength + v.byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, pairs.length);
  let at = base + 4 + <usize>pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) {
    store<u32>(base + 4 + <usize>i * 8, keys[i].byteLength);
    store<u32>(base + 8 + <usize>i * 8, vals[i].byteLength);
    memory.copy(at, changetype<usize>(keys[i]), keys[i].byteLength); at += keys[i].byteLength; store<u8>(at, 0); at++;
    memory.copy(at, changetype<usize>(vals[i]), vals[i].byteLength); at += vals[i].byteLength; store<u8>(at, 0); at++;
  }
  return out;
}

/** Decodes a header map at p (size n) into "k=v;k=v". */
export function pairsToString(p: usize, n: u32): string {
  if (n == 0) return "";
  const count = load<u32>(p);
  let at = p + 4 + <usize>count * 8;
  let out = "";
  for (let i: u32 = 0; i < count; i++) {
    const kl = load<u32>(p + 4 + <usize>i * 8);
    const vl = load<u32>(p + 8 + <usize>i * 8);
    const k = String.UTF8.decodeUnsafe(at, kl); at += kl + 1;
    const v = String.UTF8.decodeUnsafe(at, vl); at += vl + 1;
    if (i > 0) out += ";";
    out += k + "=" + v;
  }
  return out;
}
