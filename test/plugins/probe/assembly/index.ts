// Host test plugin: exercises host calls one by one, driven by request headers (`x-op`, `x-arg`,
// `x-action`, `x-body-op`) and by its plugin configuration ("k=v;..." pairs). Every result is
// logged as "<op>: status=<n> value=<v>" so tests read what the host answered.
import {
  proxy_log, proxy_get_log_level, proxy_get_current_time_nanoseconds, proxy_set_tick_period_milliseconds, proxy_done,
  proxy_set_effective_context, proxy_get_buffer_bytes, proxy_set_buffer_bytes, proxy_get_buffer_status, proxy_get_header_map_size,
  proxy_get_header_map_pairs, proxy_set_header_map_pairs, proxy_get_header_map_value, proxy_remove_header_map_value, proxy_add_header_map_value,
  proxy_continue_stream, proxy_close_stream, proxy_get_status, proxy_send_local_response, proxy_http_call, proxy_grpc_call,
  proxy_grpc_stream, proxy_grpc_send, proxy_grpc_cancel, proxy_grpc_close, proxy_set_shared_data, proxy_get_shared_data,
  proxy_register_shared_queue, proxy_resolve_shared_queue, proxy_enqueue_shared_queue, proxy_dequeue_shared_queue,
  proxy_define_metric, proxy_increment_metric, proxy_record_metric, proxy_get_metric, proxy_get_property, proxy_set_property,
  proxy_call_foreign_function, fd_write, environ_sizes_get, environ_get, clock_time_get, random_get, proc_exit,
  RET_PTR, RET_SIZE, RET_X, enc, ptr, len, info, takeString, takeBytes, getBuffer, getHeader, addHeader, replaceHeader,
  encodePairs, pairsToString,
} from "../../_shared/assembly/abi";
export function onAbort(msg: string | null, file: string | null, line: u32, col: u32): void { proc_exit(255); }

const BAD: usize = 0xfffffff0;

export function proxy_abi_version_0_2_1(): void {}
export function proxy_on_memory_allocate(size: usize): usize { return heap.alloc(size); }

let rootId: u32 = 0;
let config = "";
const ctxOps = new Map<u32, string>();
const ctxBodyOps = new Map<u32, string>();
let pendingCallCtx: u32 = 0;
// The open gRPC stream (grpc-stream ops), the context it answers, and what it has received.
let streamId: u32 = 0;
let streamCtx: u32 = 0;
let streamLog = "";
let queueId: u32 = 0;

function res(op: string, st: i32, value: string): void {
  info(op + ": status=" + st.toString() + " value=" + value);
}

function cfg(key: string): string {
  const parts = config.split(";");
  for (let i = 0; i < parts.length; i++) {
    const eq = parts[i].indexOf("=");
    if (eq > 0 && parts[i].substring(0, eq) == key) return parts[i].substring(eq + 1);
  }
  return "";
}

export function proxy_on_context_create(ctx: u32, parent: u32): void {
  if (parent == 0) rootId = ctx;
}

export function proxy_on_vm_start(root: u32, size: u32): bool {
  const vmc = getBuffer(6);
  info("vm_start: root=" + root.toString() + " size=" + size.toString() + " vm_config=" + vmc);
  return vmc != "reject";
}

export function proxy_on_configure(root: u32, size: u32): bool {
  config = getBuffer(7);
  info("configure: size=" + size.toString() + " config=" + config);
  if (cfg("reject") == "1") return false;
  if (cfg("tick") != "") proxy_set_tick_period_milliseconds(<u32>I32.parseInt(cfg("tick")));
  if (cfg("queue") != "") {
    const n = enc(cfg("queue"));
    const st = proxy_register_shared_queue(ptr(n), len(n), RET_X);
    queueId = load<u32>(RET_X);
    res("register_queue", st, queueId.toString());
  }
  if (cfg("stdout") != "") {
    // WASI fd_write to stdout and stderr become logs.
    const a = enc(cfg("stdout") + "\n");
    const iov = heap.alloc(8);
    store<u32>(iov, <u32>ptr(a)); store<u32>(iov + 4, a.byteLength);
    fd_write(1, iov, 1, RET_X);
    fd_write(2, iov, 1, RET_X);
    res("fd_write_bad_fd", fd_write(7, iov, 1, RET_X), "");
    res("fd_write_bad_iov", fd_write(1, BAD, 1, RET_X), "");
  }
  return true;
}

export function proxy_on_tick(root: u32): void {
  info("tick: root=" + root.toString());
}

export function proxy_on_queue_ready(root: u32, id: u32): void {
  store<usize>(RET_PTR, 0); store<u32>(RET_SIZE, 0);
  const st = proxy_dequeue_shared_queue(id, RET_PTR, RET_SIZE);
  res("queue_ready", st, id.toString() + ":" + takeString());
  res("dequeue_empty", proxy_dequeue_shared_queue(id, RET_PTR, RET_SIZE), "");
}

export function proxy_on_foreign_function(root: u32, fnId: u32, size: u32): void {
  res("foreign_callback", 0, fnId.toString() + ":" + getBuffer(8));
}

function propPath(dotted: string): ArrayBuffer {
  return enc(dotted.replaceAll(".", "\0"));
}

function u64At(p: usize): u64 { return load<u64>(p); }

function runOp(ctx: u32, op: string, arg: string): void {
  if (op == "get-pairs") {
    const st = proxy_get_header_map_pairs(<i32>I32.parseInt(arg == "" ? "0" : arg), RET_PTR, RET_SIZE);
    const p = load<usize>(RET_PTR); const n = load<u32>(RET_SIZE);
    res(op, st, pairsToString(p, n));
    if (p != 0) heap.free(p);
  } else if (op == "get-size") {
    const st = proxy_get_header_map_size(<i32>I32.parseInt(arg), RET_X);
    res(op, st, load<u32>(RET_X).toString());
  } else if (op == "get-value") {
    const v = getHeader(0, arg);
    res(op, v == null ? 1 : 0, v == null ? "" : v!);
  } else if (op == "add") {
    res(op, addHeader(0, "x-added", arg), "");
  } else if (op == "replace") {
    res(op, replaceHeader(0, arg, "replaced"), "");
  } else if (op == "remove") {
    const k = enc(arg);
    res(op, proxy_remove_header_map_value(0, ptr(k), len(k)), "");
  } else if (op == "set-pairs") {
    const pairs = encodePairs([[":method", "PUT"], [":path", "/set"], [":authority", "set.example"], ["x-only", "1"]]);
    res(op, proxy_set_header_map_pairs(0, ptr(pairs), len(pairs)), "");
  } else if (op == "bad-pairs") {
    const junk = enc("\xff\xff\xff\x7f");
    res(op, proxy_set_header_map_pairs(0, ptr(junk), len(junk)), "");
  } else if (op == "bad-map") {
    const k = enc("a");
    res(op, proxy_get_header_map_value(99, ptr(k), len(k), RET_PTR, RET_SIZE), "");
    res("bad-map-add", addHeader(6, "a", "b"), "");
    res("resp-map-in-request", proxy_get_header_map_pairs(2, RET_PTR, RET_SIZE), "");
  } else if (op == "bad-ptr") {
    // Every host call with an out-of-range pointer answers INVALID_MEMORY_ACCESS (6).
    const k = enc("x");
    let out = "";
    out += proxy_log(2, BAD, 100).toString() + ",";
    out += proxy_get_header_map_value(0, BAD, 4, RET_PTR, RET_SIZE).toString() + ",";
    out += proxy_get_header_map_value(0, ptr(k), len(k), BAD, RET_SIZE).toString() + ",";
    out += proxy_get_header_map_pairs(0, BAD, RET_SIZE).toString() + ",";
    out += proxy_add_header_map_value(0, ptr(k), len(k), BAD, 10).toString() + ",";
    out += proxy_set_header_map_pairs(0, BAD, 64).toString() + ",";
    out += proxy_get_property(BAD, 4, RET_PTR, RET_SIZE).toString() + ",";
    out += proxy_set_shared_data(BAD, 3, BAD, 3, 0).toString() + ",";
    out += proxy_get_current_time_nanoseconds(BAD).toString() + ",";
    out += proxy_send_local_response(403, BAD, 5, 0, 0, 0, 0, -1).toString() + ",";
    out += proxy_http_call(BAD, 3, 0, 0, 0, 0, 0, 0, 100, RET_X).toString() + ",";
    out += proxy_get_buffer_bytes(7, 0, 10, BAD, RET_SIZE).toString() + ",";
    out += proxy_call_foreign_function(BAD, 3, 0, 0, RET_PTR, RET_SIZE).toString() + ",";
    out += proxy_get_log_level(0xffffffff).toString() + ",";
    out += proxy_define_metric(0, BAD, 8, RET_X).toString() + ",";
    out += proxy_get_header_map_value(0, 0xfffffffe, 0xffffffff, RET_PTR, RET_SIZE).toString();
    res(op, 0, out);
  } else if (op == "property") {
    const p = propPath(arg);
    store<usize>(RET_PTR, 0); store<u32>(RET_SIZE, 0);
    const st = proxy_get_property(ptr(p), len(p), RET_PTR, RET_SIZE);
    const n = load<u32>(RET_SIZE);
    const pp = load<usize>(RET_PTR);
    if (st == 0 && n == 8 && (arg.endsWith(".port") || arg == "response.code" || arg == "connection.id" || arg == "request.time" || arg == "listener_direction")) {
      res(op, st, "int:" + u64At(pp).toString());
    } else if (st == 0 && (arg == "request.headers" || arg == "response.headers")) {
      res(op, st, pairsToString(pp, n));
    } else res(op, st, st == 0 ? takeString() : "");
  } else if (op == "set-property") {
    const p = propPath("custom.key"); const v = enc(arg);
    const st = proxy_set_property(ptr(p), len(p), ptr(v), len(v));
    store<usize>(RET_PTR, 0);
    proxy_get_property(ptr(p), len(p), RET_PTR, RET_SIZE);
    res(op, st, takeString());
  } else if (op == "ai-log") {
    // What Higress's AI plugins do: a JSON text in the `ai_log` property, for the access log.
    const p = propPath("ai_log"); const v = enc(arg);
    res(op, proxy_set_property(ptr(p), len(p), ptr(v), len(v)), "");
  } else if (op == "local") {
    const body = enc("denied by probe");
    const hdrs = encodePairs([["x-local", "1"], ["content-type", "text/plain"]]);
    const d = enc("probe_denied");
    res(op, proxy_send_local_response(<u32>I32.parseInt(arg == "" ? "403" : arg), ptr(d), len(d), ptr(body), len(body), ptr(hdrs), len(hdrs), -1), "");
  } else if (op == "local-bad") {
    res(op, proxy_send_local_response(42, 0, 0, 0, 0, 0, 0, -1), "");
  } else if (op == "http-call" || op == "http-call-missing" || op == "http-call-fail") {
    const cluster = enc(arg == "" ? "outbound|80||auth.example" : arg);
    const hdrs = op == "http-call-missing"
      ? encodePairs([[":method", "GET"], [":authority", "auth.example"]])
      : encodePairs([[":method", "POST"], [":path", "/check"], [":authority", "auth.example"], ["x-from", "probe"]]);
    const body = enc("payload");
    const st = proxy_http_call(ptr(cluster), len(cluster), ptr(hdrs), len(hdrs), ptr(body), len(body), 0, 0, 1500, RET_X);
    res(op, st, load<u32>(RET_X).toString());
    if (st == 0) pendingCallCtx = ctx;
  } else if (op == "grpc-call" || op == "grpc-cancel") {
    // A unary call to demo.Echo/<x-arg or Say>; the answer (or the failure) becomes the local response.
    const cluster = enc(cfg("grpc-cluster") != "" ? cfg("grpc-cluster") : "outbound|80||grpc.example");
    const svc = enc("demo.Echo");
    const method = enc(arg == "" ? "Say" : arg);
    const md = encodePairs([["x-from", "probe"]]);
    const msg = enc("hello from probe");
    const st = proxy_grpc_call(ptr(cluster), len(cluster), ptr(svc), len(svc), ptr(method), len(method), ptr(md), len(md), ptr(msg), len(msg), 2000, RET_X);
    const id = load<u32>(RET_X);
    res(op, st, id.toString());
    if (op == "grpc-cancel") res("cancel", proxy_grpc_cancel(id), "");
    else if (st == 0) pendingCallCtx = ctx;
  } else if (op == "grpc-stream" || op == "grpc-stream-close" || op == "grpc-stream-cancel") {
    // A stream to demo.Echo/<x-arg or Chat>: sends "one"; grpc-stream sends "two" (end_stream)
    // when "echo:one" comes back, grpc-stream-close half-closes at once, grpc-stream-cancel
    // cancels at once. What arrives becomes the local response when the stream closes.
    const cluster = enc(cfg("grpc-cluster") != "" ? cfg("grpc-cluster") : "outbound|80||grpc.example");
    const svc = enc("demo.Echo");
    const method = enc(arg == "" ? "Chat" : arg);
    const md = encodePairs([["x-from", "probe"]]);
    const st = proxy_grpc_stream(ptr(cluster), len(cluster), ptr(svc), len(svc), ptr(method), len(method), ptr(md), len(md), RET_X);
    const id = load<u32>(RET_X);
    res(op, st, id.toString());
    if (st == 0) {
      const one = enc("one");
      res("send", proxy_grpc_send(id, ptr(one), len(one), 0), "");
      if (op == "grpc-stream-cancel") {
        res("cancel", proxy_grpc_cancel(id), "");
        res("send-after-cancel", proxy_grpc_send(id, ptr(one), len(one), 0), "");
      } else {
        if (op == "grpc-stream-close") res("close", proxy_grpc_close(id), "");
        streamId = id; streamCtx = ctx; streamLog = "";
      }
    }
  } else if (op == "grpc") {
    const s = enc("svc");
    let out = "";
    out += proxy_grpc_call(ptr(s), len(s), ptr(s), len(s), ptr(s), len(s), 0, 0, 0, 0, 100, RET_X).toString() + ",";
    out += proxy_grpc_stream(ptr(s), len(s), ptr(s), len(s), ptr(s), len(s), 0, 0, RET_X).toString() + ",";
    out += proxy_grpc_send(1, 0, 0, 0).toString() + "," + proxy_grpc_cancel(1).toString() + "," + proxy_grpc_close(1).toString();
    res(op, 0, out);
  } else if (op == "shared-set") {
    const k = enc("k1"); const v = enc(arg);
    res(op, proxy_set_shared_data(ptr(k), len(k), ptr(v), len(v), 0), "");
  } else if (op == "shared-get") {
    const k = enc(arg == "" ? "k1" : arg);
    store<usize>(RET_PTR, 0); store<u32>(RET_SIZE, 0);
    const st = proxy_get_shared_data(ptr(k), len(k), RET_PTR, RET_SIZE, RET_X);
    res(op, st, st == 0 ? takeString() + "@" + load<u32>(RET_X).toString() : "");
  } else if (op == "shared-cas") {
    // Read the CAS, write with it (OK), write again with the stale one (CAS_MISMATCH).
    const k = enc("k1");
    proxy_get_shared_data(ptr(k), len(k), RET_PTR, RET_SIZE, RET_X);
    takeString();
    const cas = load<u32>(RET_X);
    const v1 = enc("first"); const v2 = enc("second");
    const a = proxy_set_shared_data(ptr(k), len(k), ptr(v1), len(v1), cas);
    const b = proxy_set_shared_data(ptr(k), len(k), ptr(v2), len(v2), cas);
    res(op, 0, a.toString() + "," + b.toString());
  } else if (op == "queue-resolve") {
    const vm = enc(""); const n = enc(arg);
    const st = proxy_resolve_shared_queue(ptr(vm), len(vm), ptr(n), len(n), RET_X);
    res(op, st, st == 0 ? load<u32>(RET_X).toString() : "");
  } else if (op == "queue-enqueue") {
    const v = enc(arg);
    res(op, proxy_enqueue_shared_queue(queueId, ptr(v), len(v)), "");
  } else if (op == "queue-bad") {
    const v = enc("x");
    res(op, 0, proxy_enqueue_shared_queue(9999, ptr(v), len(v)).toString() + "," + proxy_dequeue_shared_queue(9999, RET_PTR, RET_SIZE).toString());
  } else if (op == "metrics") {
    const c = enc("probe_requests_total"); const g = enc("probe_inflight"); const h = enc("probe_latency_ms");
    proxy_define_metric(0, ptr(c), len(c), RET_X); const cid = load<u32>(RET_X);
    proxy_define_metric(1, ptr(g), len(g), RET_X); const gid = load<u32>(RET_X);
    proxy_define_metric(2, ptr(h), len(h), RET_X); const hid = load<u32>(RET_X);
    let out = "";
    out += proxy_increment_metric(cid, 2).toString() + ",";
    out += proxy_increment_metric(cid, -1).toString() + ",";
    out += proxy_increment_metric(gid, 5).toString() + ",";
    out += proxy_increment_metric(gid, -2).toString() + ",";
    out += proxy_record_metric(hid, 42).toString() + ",";
    out += proxy_increment_metric(hid, 1).toString() + ",";
    out += proxy_get_metric(cid, RET_X).toString() + ":" + load<u64>(RET_X).toString() + ",";
    out += proxy_get_metric(gid, RET_X).toString() + ":" + load<u64>(RET_X).toString() + ",";
    out += proxy_get_metric(hid, RET_X).toString() + ",";
    out += proxy_get_metric(12345, RET_X).toString() + ",";
    out += proxy_define_metric(7, ptr(c), len(c), RET_X).toString() + ",";
    out += proxy_record_metric(gid, 9).toString();
    res(op, 0, out);
  } else if (op == "foreign") {
    const n = enc(arg); const a = enc("args");
    store<usize>(RET_PTR, 0); store<u32>(RET_SIZE, 0);
    const st = proxy_call_foreign_function(ptr(n), len(n), ptr(a), len(a), RET_PTR, RET_SIZE);
    res(op, st, st == 0 ? takeString() : "");
  } else if (op == "status") {
    const st = proxy_get_status(RET_X, RET_PTR, RET_SIZE);
    res(op, st, load<u32>(RET_X).toString());
  } else if (op == "time") {
    const st = proxy_get_current_time_nanoseconds(RET_X);
    const st2 = clock_time_get(0, 1, RET_X + 0);
    res(op, st, load<u64>(RET_X).toString() + " wasi=" + st2.toString());
  } else if (op == "log-level") {
    const st = proxy_get_log_level(RET_X);
    res(op, st, load<u32>(RET_X).toString() + " bad_level=" + proxy_log(9, 0, 0).toString());
  } else if (op == "wasi-env") {
    environ_sizes_get(RET_X, RET_SIZE);
    const count = load<u32>(RET_X); const size = load<u32>(RET_SIZE);
    const arr = heap.alloc(count * 4 + 4); const buf = heap.alloc(size + 1);
    const st = environ_get(arr, buf);
    res(op, st, count.toString() + ":" + String.UTF8.decodeUnsafe(buf, <usize>(size > 0 ? size - 1 : 0)));
  } else if (op == "random") {
    res(op, random_get(RET_X, 8), "");
  } else if (op == "effective") {
    res(op, 0, proxy_set_effective_context(rootId).toString() + "," + proxy_set_effective_context(424242).toString());
  } else if (op == "close") {
    res(op, proxy_close_stream(0), "");
  } else if (op == "done") {
    res(op, proxy_done(), "");
  } else if (op == "buffer-status") {
    res(op, proxy_get_buffer_status(7, RET_X, RET_SIZE), load<u32>(RET_X).toString());
  } else if (op == "missing-buffer") {
    res(op, 0, proxy_get_buffer_bytes(5, 0, 10, RET_PTR, RET_SIZE).toString() + "," + proxy_get_buffer_status(3, RET_X, RET_SIZE).toString());
  } else if (op == "exit") {
    proc_exit(3);
  } else if (op == "trap") {
    unreachable();
  }
}

export function proxy_on_request_headers(ctx: u32, n: u32, eos: u32): u32 {
  const op = getHeader(0, "x-op");
  const arg = getHeader(0, "x-arg");
  const bodyOp = getHeader(0, "x-body-op");
  info("request_headers: ctx=" + ctx.toString() + " n=" + n.toString() + " eos=" + eos.toString());
  if (bodyOp != null) ctxBodyOps.set(ctx, bodyOp!);
  if (op != null && cfg("skip-ops") != "1") {
    ctxOps.set(ctx, op!);
    const ops = op!.split(",");
    for (let i = 0; i < ops.length; i++) runOp(ctx, ops[i], arg == null ? "" : arg!);
  }
  const action = getHeader(0, "x-action");
  return action == null ? 0 : <u32>I32.parseInt(action!);
}

export function proxy_on_request_body(ctx: u32, size: u32, eos: u32): u32 {
  const body = getBuffer(0);
  info("request_body: size=" + size.toString() + " eos=" + eos.toString() + " body=" + body);
  if (!ctxBodyOps.has(ctx)) return 0;
  const op = ctxBodyOps.get(ctx);
  if (op == "buffer") return eos ? 0 : 1;
  if (op == "replace" && eos) {
    const b = enc("replaced:" + body);
    res("set_buffer", proxy_set_buffer_bytes(0, 0, size, ptr(b), len(b)), "");
    return 0;
  }
  if (op == "append" && eos) {
    const b = enc("+tail");
    const p = enc("head+");
    res("append", proxy_set_buffer_bytes(0, size, 0, ptr(b), len(b)), "");
    res("prepend", proxy_set_buffer_bytes(0, 0, 0, ptr(p), len(p)), "");
    res("bad_start", proxy_set_buffer_bytes(0, 2, 1, ptr(p), len(p)), "");
    return 0;
  }
  if (op == "headers-late") {
    // StopIteration on headers let the body through: headers are still writable here.
    res("late_header", addHeader(0, "x-late", "body-seen"), "");
    return 0;
  }
  if (op == "pause-eos") return eos ? 1 : 0;
  if (op == "local-body") {
    const b = enc("too big"); const d = enc("");
    proxy_send_local_response(413, ptr(d), 0, ptr(b), len(b), 0, 0, -1);
    return 1;
  }
  return 0;
}

export function proxy_on_request_trailers(ctx: u32, n: u32): u32 {
  store<usize>(RET_PTR, 0); store<u32>(RET_SIZE, 0);
  proxy_get_header_map_pairs(1, RET_PTR, RET_SIZE);
  const p = load<usize>(RET_PTR); const sz = load<u32>(RET_SIZE);
  info("request_trailers: n=" + n.toString() + " " + pairsToString(p, sz));
  addHeader(1, "x-trailer-added", "1");
  return 0;
}

export function proxy_on_response_headers(ctx: u32, n: u32, eos: u32): u32 {
  const status = getHeader(2, ":status");
  info("response_headers: status=" + (status == null ? "none" : status!) + " eos=" + eos.toString());
  addHeader(2, "x-probe", "seen");
  if (cfg("rewrite-status") != "") replaceHeader(2, ":status", cfg("rewrite-status"));
  if (ctxOps.has(ctx) && ctxOps.get(ctx) == "resp-local") {
    const d = enc("x");
    proxy_send_local_response(502, ptr(d), len(d), 0, 0, 0, 0, -1);
  }
  return cfg("resp-pause") == "1" ? 1 : 0;
}

export function proxy_on_response_body(ctx: u32, size: u32, eos: u32): u32 {
  const body = getBuffer(1);
  info("response_body: size=" + size.toString() + " eos=" + eos.toString() + " body=" + body);
  if (ctxBodyOps.has(ctx) && ctxBodyOps.get(ctx) == "resp-buffer") {
    if (!eos) return 1;
    const b = enc(body.toUpperCase());
    proxy_set_buffer_bytes(1, 0, size, ptr(b), len(b));
  }
  return cfg("resp-pause") == "1" ? 1 : 0;
}

export function proxy_on_response_trailers(ctx: u32, n: u32): u32 {
  info("response_trailers: n=" + n.toString());
  return 0;
}

export function proxy_on_http_call_response(root: u32, callId: u32, nh: u32, bodySize: u32, nt: u32): void {
  info("http_call_response: root=" + root.toString() + " id=" + callId.toString() + " headers=" + nh.toString() + " body_size=" + bodySize.toString());
  store<usize>(RET_PTR, 0); store<u32>(RET_SIZE, 0);
  proxy_get_header_map_pairs(6, RET_PTR, RET_SIZE);
  const p = load<usize>(RET_PTR); const sz = load<u32>(RET_SIZE);
  const hdrs = pairsToString(p, sz);
  const body = getBuffer(4);
  proxy_get_status(RET_X, RET_PTR, RET_SIZE);
  info("http_call_data: headers=" + hdrs + " body=" + body + " status=" + load<u32>(RET_X).toString());
  if (pendingCallCtx == 0) return;
  const st = proxy_set_effective_context(pendingCallCtx);
  pendingCallCtx = 0;
  if (nh == 0) {
    const d = enc("auth_unavailable"); const b = enc("auth unavailable");
    proxy_send_local_response(503, ptr(d), len(d), ptr(b), len(b), 0, 0, -1);
    return;
  }
  const verdict = getHeader(6, "x-verdict");
  if (verdict != null && verdict! == "deny") {
    const d = enc("denied"); const b = enc("denied by auth");
    proxy_send_local_response(401, ptr(d), len(d), ptr(b), len(b), 0, 0, -1);
    return;
  }
  addHeader(0, "x-auth", body);
  res("continue", proxy_continue_stream(0), st.toString());
}

export function proxy_on_grpc_receive_initial_metadata(root: u32, callId: u32, n: u32): void {
  const md = getHeader(4, "x-md");
  info("grpc_initial_metadata: id=" + callId.toString() + " n=" + n.toString());
  if (callId == streamId) streamLog += "md:" + (md == null ? "none" : md!) + ";";
}

export function proxy_on_grpc_receive_trailing_metadata(root: u32, callId: u32, n: u32): void {
  const tr = getHeader(5, "x-tr");
  info("grpc_trailing_metadata: id=" + callId.toString() + " n=" + n.toString());
  if (callId == streamId) streamLog += "tr:" + (tr == null ? "none" : tr!) + ";";
}

export function proxy_on_grpc_receive(root: u32, callId: u32, size: u32): void {
  const body = getBuffer(5);
  if (callId == streamId) {
    streamLog += "msg:" + body + ";";
    if (body == "echo:one") {
      const two = enc("two");
      res("send", proxy_grpc_send(callId, ptr(two), len(two), 1), "");
    }
    return;
  }
  info("grpc_receive: root=" + root.toString() + " id=" + callId.toString() + " size=" + size.toString() + " body=" + body);
  if (pendingCallCtx == 0) return;
  proxy_set_effective_context(pendingCallCtx);
  pendingCallCtx = 0;
  const d = enc("grpc_ok"); const b = enc("grpc:" + body);
  proxy_send_local_response(200, ptr(d), len(d), ptr(b), len(b), 0, 0, -1);
}

export function proxy_on_grpc_close(root: u32, callId: u32, status: u32): void {
  store<u32>(RET_X, 0); store<usize>(RET_PTR, 0); store<u32>(RET_SIZE, 0);
  proxy_get_status(RET_X, RET_PTR, RET_SIZE);
  const message = takeString();
  info("grpc_close: root=" + root.toString() + " id=" + callId.toString() + " status=" + status.toString() + " message=" + message);
  if (callId == streamId) {
    proxy_set_effective_context(streamCtx);
    streamId = 0;
    const d = enc("grpc_stream"); const b = enc(streamLog + "close:" + status.toString() + ":" + message);
    proxy_send_local_response(200, ptr(d), len(d), ptr(b), len(b), 0, 0, -1);
    return;
  }
  if (pendingCallCtx == 0) return;
  proxy_set_effective_context(pendingCallCtx);
  pendingCallCtx = 0;
  const d = enc("grpc_failed"); const b = enc("grpc status " + status.toString() + ": " + message);
  proxy_send_local_response(502, ptr(d), len(d), ptr(b), len(b), 0, 0, -1);
}

export function proxy_on_done(ctx: u32): bool {
  info("done: ctx=" + ctx.toString());
  return true;
}

export function proxy_on_log(ctx: u32): void {
  const status = getHeader(2, ":status");
  info("log: ctx=" + ctx.toString() + " status=" + (status == null ? "none" : status!));
}

export function proxy_on_delete(ctx: u32): void {
  ctxOps.delete(ctx);
  ctxBodyOps.delete(ctx);
  info("delete: ctx=" + ctx.toString());
}
