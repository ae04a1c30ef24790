/**
 * The proxy-wasm host functions (module `env`, REFERENCE §1), bound to one VM. Every pointer and
 * length from the plugin is bounds-checked first: a bad one returns INVALID_MEMORY_ACCESS, never
 * an exception. The only exceptions that leave a host function are deliberate VM failures
 * (`proc_exit`, an allocator returning garbage) and traps from the plugin's own allocator.
 */
import { WasmResult, BufferType, MapType, LogLevel, GrpcStatus } from '../../spec/index.js';
import type { Vm } from './vm.js';
import type { GrpcStreamRequest, HeaderList, HttpCallRequest, LocalResponse } from './types.js';
import { encodedSize, encodeInto, decodeFrom, lowerAscii as lower } from './header-codec.js';
import { readProperty, propertyName } from './properties.js';
import { wasiFunctions } from './wasi.js';
import { ABI } from '../../spec/index.js';

const { OK, NOT_FOUND, BAD_ARGUMENT, INVALID_MEMORY_ACCESS, EMPTY, CAS_MISMATCH, INTERNAL_FAILURE, PARSE_FAILURE } = WasmResult;

type HostFn = (...args: never[]) => number | void;

/** Starts an outbound call and hands its result (or failure, a synchronous throw included) on. */
function startCall<T>(start: () => Promise<T>, ok: (r: T) => void, failed: (err: unknown) => void): void {
  let promise: Promise<T>;
  try {
    promise = start();
  } catch (err) {
    promise = Promise.reject(err);
  }
  promise.then(ok, failed);
}


/** The import object for one VM: `env` plus the WASI subset under both module names. */
export function buildImports(vm: Vm): Record<string, Record<string, HostFn>> {
  const env = vm.config.env;

  /** Header map `t` for the current context; null = not a valid map type. */
  const readMap = (t: number): HeaderList | undefined | null => {
    if (t === MapType.HTTP_CALL_RESPONSE_HEADERS) return vm.callResponse?.headers;
    if (t === MapType.HTTP_CALL_RESPONSE_TRAILERS) return vm.callResponse?.trailers;
    if (t < 0 || t > 7) return null;
    if (t > 3) {
      const md = vm.grpcMetadata;
      return md?.type === t ? md.list : undefined;
    }
    const port = vm.current.stream;
    return port ? port.map(t) : undefined;
  };
  /** Writable map: undefined → BAD_ARGUMENT. */
  const writeMap = (t: number): HeaderList | undefined => {
    if (t < 0 || t > 3) return undefined;
    const port = vm.current.stream;
    if (!port || !port.mapWritable(t)) return undefined;
    return port.map(t);
  };
  const readBuffer = (t: number): Uint8Array | undefined => {
    switch (t) {
      case BufferType.HTTP_REQUEST_BODY:
      case BufferType.HTTP_RESPONSE_BODY:
        return vm.current.stream?.body(t);
      case BufferType.HTTP_CALL_RESPONSE_BODY: return vm.callResponse?.body;
      case BufferType.GRPC_RECEIVE_BUFFER: return vm.grpcMessage;
      case BufferType.VM_CONFIGURATION: return vm.config.vmConfiguration;
      case BufferType.PLUGIN_CONFIGURATION: return vm.config.configuration;
      case BufferType.CALL_DATA: return vm.callData;
    }
    return undefined;
  };
  /** The cluster, method and metadata of a gRPC call or stream, or the error to return. */
  const grpcTarget = (upPtr: number, upSize: number, svcPtr: number, svcSize: number, mPtr: number, mSize: number,
    mdPtr: number, mdSize: number): GrpcStreamRequest | number => {
    upPtr >>>= 0; upSize >>>= 0; svcPtr >>>= 0; svcSize >>>= 0; mPtr >>>= 0; mSize >>>= 0; mdPtr >>>= 0; mdSize >>>= 0;
    const mem = vm.mem;
    if (!mem.ok(upPtr, upSize) || !mem.ok(svcPtr, svcSize) || !mem.ok(mPtr, mSize) || !mem.ok(mdPtr, mdSize)) return INVALID_MEMORY_ACCESS;
    // `upstream` is a cluster name (Envoy also takes a serialized GrpcService there).
    const cluster = mem.utf8(upPtr, upSize);
    const metadata = mdSize ? decodeFrom(mem, mdPtr, mdSize) : [];
    if (!metadata) return PARSE_FAILURE;
    for (let i = 0; i < metadata.length; i++) metadata[i]![0] = lower(metadata[i]![0]);
    if (env.knownCluster && !env.knownCluster(cluster)) return BAD_ARGUMENT;
    return { cluster, service: mem.utf8(svcPtr, svcSize), method: mem.utf8(mPtr, mSize), metadata };
  };
  const strArg = (ptr: number, len: number): string | undefined => (vm.mem.ok(ptr, len) ? vm.mem.utf8(ptr, len) : undefined);
  const sharedKey = (key: string): string => (vm.config.facts.vmId ? `${vm.config.facts.vmId}\u0000${key}` : key);

  const continueStream = (streamType: number): number => {
    const port = vm.current.stream;
    return port ? port.continueStream(streamType) : BAD_ARGUMENT;
  };

  const host: Record<string, HostFn> = {
    proxy_log(level: number, ptr: number, len: number): number {
      ptr >>>= 0; len >>>= 0;
      if (level < LogLevel.TRACE || level > LogLevel.CRITICAL) return BAD_ARGUMENT;
      if (!vm.mem.ok(ptr, len)) return INVALID_MEMORY_ACCESS;
      vm.log(level, vm.mem.utf8(ptr, len));
      return OK;
    },
    proxy_get_log_level(retPtr: number): number {
      retPtr >>>= 0;
      if (!vm.mem.ok(retPtr, 4)) return INVALID_MEMORY_ACCESS;
      vm.mem.setU32(retPtr, env.logLevel ?? LogLevel.INFO);
      return OK;
    },
    proxy_get_current_time_nanoseconds(retPtr: number): number {
      retPtr >>>= 0;
      if (!vm.mem.ok(retPtr, 8)) return INVALID_MEMORY_ACCESS;
      vm.mem.setU64(retPtr, env.nowNs ? env.nowNs() : BigInt(Date.now()) * 1_000_000n);
      return OK;
    },
    proxy_set_tick_period_milliseconds(period: number): number {
      vm.setTickPeriod(period >>> 0);
      return OK;
    },
    proxy_done(): number {
      if (vm.current !== vm.root) return BAD_ARGUMENT;
      vm.doneCalled = true;
      vm.onProxyDone?.();
      return OK;
    },
    proxy_set_effective_context(id: number): number {
      const ctx = vm.contexts.get(id >>> 0);
      if (!ctx) return BAD_ARGUMENT;
      vm.current = ctx;
      return OK;
    },
    proxy_get_configuration(retPtrPtr: number, retSizePtr: number): number {
      retPtrPtr >>>= 0; retSizePtr >>>= 0;
      if (!vm.mem.ok(retPtrPtr, 4) || !vm.mem.ok(retSizePtr, 4)) return INVALID_MEMORY_ACCESS;
      vm.mem.returnBytes(vm.config.configuration, retPtrPtr, retSizePtr);
      return OK;
    },

    // --- buffers ---------------------------------------------------------------------------
    proxy_get_buffer_bytes(t: number, start: number, maxSize: number, retPtrPtr: number, retSizePtr: number): number {
      start >>>= 0; maxSize >>>= 0; retPtrPtr >>>= 0; retSizePtr >>>= 0;
      const buf = readBuffer(t);
      if (!buf) return NOT_FOUND;
      if (!vm.mem.ok(retPtrPtr, 4) || !vm.mem.ok(retSizePtr, 4)) return INVALID_MEMORY_ACCESS;
      if (start > buf.length) return BAD_ARGUMENT;
      const end = Math.min(buf.length, start + maxSize);
      vm.mem.returnBytes(start === 0 && end === buf.length ? buf : buf.subarray(start, end), retPtrPtr, retSizePtr);
      return OK;
    },
    proxy_set_buffer_bytes(t: number, start: number, size: number, dataPtr: number, dataSize: number): number {
      start >>>= 0; size >>>= 0; dataPtr >>>= 0; dataSize >>>= 0;
      if (t !== BufferType.HTTP_REQUEST_BODY && t !== BufferType.HTTP_RESPONSE_BODY) return t >= 0 && t <= 8 ? BAD_ARGUMENT : BAD_ARGUMENT;
      const port = vm.current.stream;
      const cur = port?.body(t);
      if (!port || !cur) return NOT_FOUND;
      if (!vm.mem.ok(dataPtr, dataSize)) return INVALID_MEMORY_ACCESS;
      const data = vm.mem.u8.subarray(dataPtr, dataPtr + dataSize);
      let next: Uint8Array;
      // Envoy's Buffer::copyFrom: start 0 replaces the first `size` bytes (0 = prepend); start at
      // or past the end appends; anything else is refused.
      if (start === 0) {
        const drop = Math.min(size, cur.length);
        next = new Uint8Array(dataSize + cur.length - drop);
        next.set(data, 0);
        next.set(cur.subarray(drop), dataSize);
      } else if (start >= cur.length) {
        next = new Uint8Array(cur.length + dataSize);
        next.set(cur, 0);
        next.set(data, cur.length);
      } else return BAD_ARGUMENT;
      port.setBody(t, next);
      return OK;
    },
    proxy_get_buffer_status(t: number, retSizePtr: number, retFlagsPtr: number): number {
      retSizePtr >>>= 0; retFlagsPtr >>>= 0;
      const buf = readBuffer(t);
      if (!buf) return NOT_FOUND;
      if (!vm.mem.ok(retSizePtr, 4) || !vm.mem.ok(retFlagsPtr, 4)) return INVALID_MEMORY_ACCESS;
      vm.mem.setU32(retSizePtr, buf.length);
      vm.mem.setU32(retFlagsPtr, 0);
      return OK;
    },

    // --- header maps -----------------------------------------------------------------------
    proxy_get_header_map_size(t: number, retSizePtr: number): number {
      retSizePtr >>>= 0;
      const map = readMap(t);
      if (map === null) return BAD_ARGUMENT;
      if (!vm.mem.ok(retSizePtr, 4)) return INVALID_MEMORY_ACCESS;
      vm.mem.setU32(retSizePtr, map ? encodedSize(map) : 0);
      return map ? OK : NOT_FOUND;
    },
    proxy_get_header_map_pairs(t: number, retPtrPtr: number, retSizePtr: number): number {
      retPtrPtr >>>= 0; retSizePtr >>>= 0;
      const map = readMap(t);
      if (map === null) return BAD_ARGUMENT;
      const mem = vm.mem;
      if (!mem.ok(retPtrPtr, 4) || !mem.ok(retSizePtr, 4)) return INVALID_MEMORY_ACCESS;
      const size = map ? encodedSize(map) : 0;
      if (size === 0) {
        mem.setU32(retPtrPtr, 0);
        mem.setU32(retSizePtr, 0);
        return map ? OK : NOT_FOUND;
      }
      const p = mem.malloc(size);
      encodeInto(mem, p, map!);
      mem.setU32(retPtrPtr, p);
      mem.setU32(retSizePtr, size);
      return OK;
    },
    proxy_set_header_map_pairs(t: number, ptr: number, size: number): number {
      ptr >>>= 0; size >>>= 0;
      const map = writeMap(t);
      if (!map) return BAD_ARGUMENT;
      if (!vm.mem.ok(ptr, size)) return INVALID_MEMORY_ACCESS;
      const pairs = decodeFrom(vm.mem, ptr, size);
      if (!pairs) return PARSE_FAILURE;
      map.length = 0;
      for (const [k, v] of pairs) map.push([lower(k), v]);
      return OK;
    },
    proxy_get_header_map_value(t: number, keyPtr: number, keySize: number, retPtrPtr: number, retSizePtr: number): number {
      keyPtr >>>= 0; keySize >>>= 0; retPtrPtr >>>= 0; retSizePtr >>>= 0;
      const map = readMap(t);
      if (map === null) return BAD_ARGUMENT;
      // The hot path of most plugins: one view refresh, then plain compares.
      const mem = vm.mem;
      mem.refresh();
      const limit = mem.u8.length;
      if (keyPtr + keySize > limit || retPtrPtr + 4 > limit || retSizePtr + 4 > limit) return INVALID_MEMORY_ACCESS;
      if (!map) return NOT_FOUND;
      const i = mem.findName(map, keyPtr, keySize);
      if (i < 0) return NOT_FOUND;
      mem.returnLatin1(map[i]![1], retPtrPtr, retSizePtr);
      return OK;
    },
    proxy_add_header_map_value(t: number, keyPtr: number, keySize: number, valPtr: number, valSize: number): number {
      keyPtr >>>= 0; keySize >>>= 0; valPtr >>>= 0; valSize >>>= 0;
      const map = writeMap(t);
      if (!map) return BAD_ARGUMENT;
      const mem = vm.mem;
      if (!mem.ok(keyPtr, keySize) || !mem.ok(valPtr, valSize)) return INVALID_MEMORY_ACCESS;
      map.push([mem.headerName(keyPtr, keySize), mem.latin1(valPtr, valSize)]);
      return OK;
    },
    proxy_replace_header_map_value(t: number, keyPtr: number, keySize: number, valPtr: number, valSize: number): number {
      keyPtr >>>= 0; keySize >>>= 0; valPtr >>>= 0; valSize >>>= 0;
      const map = writeMap(t);
      if (!map) return BAD_ARGUMENT;
      const mem = vm.mem;
      if (!mem.ok(keyPtr, keySize) || !mem.ok(valPtr, valSize)) return INVALID_MEMORY_ACCESS;
      const key = mem.headerName(keyPtr, keySize);
      const value = mem.latin1(valPtr, valSize);
      let found = false;
      for (let i = 0; i < map.length; i++) {
        if (map[i]![0] !== key) continue;
        if (!found) {
          map[i] = [key, value];
          found = true;
        } else map.splice(i--, 1);
      }
      if (!found) map.push([key, value]);
      return OK;
    },
    proxy_remove_header_map_value(t: number, keyPtr: number, keySize: number): number {
      keyPtr >>>= 0; keySize >>>= 0;
      const map = writeMap(t);
      if (!map) return BAD_ARGUMENT;
      if (!vm.mem.ok(keyPtr, keySize)) return INVALID_MEMORY_ACCESS;
      const key = vm.mem.headerName(keyPtr, keySize);
      for (let i = 0; i < map.length; i++) if (map[i]![0] === key) map.splice(i--, 1);
      return OK;
    },

    // --- stream control --------------------------------------------------------------------
    proxy_continue_stream(streamType: number): number { return continueStream(streamType); },
    proxy_continue_request(): number { return continueStream(0); },
    proxy_continue_response(): number { return continueStream(1); },
    proxy_clear_route_cache(): number { return OK; },
    proxy_close_stream(streamType: number): number {
      const port = vm.current.stream;
      return port ? port.closeStream(streamType) : BAD_ARGUMENT;
    },
    proxy_send_local_response(status: number, detailsPtr: number, detailsSize: number, bodyPtr: number, bodySize: number,
      headersPtr: number, headersSize: number, grpcStatus: number): number {
      detailsPtr >>>= 0; detailsSize >>>= 0; bodyPtr >>>= 0; bodySize >>>= 0; headersPtr >>>= 0; headersSize >>>= 0;
      const mem = vm.mem;
      if (!mem.ok(detailsPtr, detailsSize) || !mem.ok(bodyPtr, bodySize) || !mem.ok(headersPtr, headersSize)) return INVALID_MEMORY_ACCESS;
      const port = vm.current.stream;
      if (!port) return BAD_ARGUMENT;
      if (status < 100 || status > 999) return BAD_ARGUMENT;
      const headers = decodeFrom(mem, headersPtr, headersSize);
      if (!headers) return PARSE_FAILURE;
      const resp: LocalResponse = {
        status,
        headers: headers.map(([k, v]) => [lower(k), v] as [string, string]),
        body: mem.bytes(bodyPtr, bodySize),
        details: mem.utf8(detailsPtr, detailsSize),
        grpcStatus: grpcStatus | 0,
      };
      return port.sendLocalResponse(resp);
    },
    proxy_get_status(codePtr: number, msgPtrPtr: number, msgSizePtr: number): number {
      codePtr >>>= 0; msgPtrPtr >>>= 0; msgSizePtr >>>= 0;
      const mem = vm.mem;
      if (!mem.ok(codePtr, 4) || !mem.ok(msgPtrPtr, 4) || !mem.ok(msgSizePtr, 4)) return INVALID_MEMORY_ACCESS;
      mem.setU32(codePtr, vm.status.code);
      mem.returnLatin1(vm.status.message, msgPtrPtr, msgSizePtr);
      return OK;
    },

    // --- outbound calls --------------------------------------------------------------------
    proxy_http_call(upPtr: number, upSize: number, hPtr: number, hSize: number, bPtr: number, bSize: number,
      tPtr: number, tSize: number, timeoutMs: number, retIdPtr: number): number {
      upPtr >>>= 0; upSize >>>= 0; hPtr >>>= 0; hSize >>>= 0; bPtr >>>= 0; bSize >>>= 0; tPtr >>>= 0; tSize >>>= 0; retIdPtr >>>= 0;
      const mem = vm.mem;
      if (!mem.ok(upPtr, upSize) || !mem.ok(hPtr, hSize) || !mem.ok(bPtr, bSize) || !mem.ok(tPtr, tSize) || !mem.ok(retIdPtr, 4)) {
        return INVALID_MEMORY_ACCESS;
      }
      const cluster = mem.utf8(upPtr, upSize);
      const headers = decodeFrom(mem, hPtr, hSize);
      const trailers = decodeFrom(mem, tPtr, tSize);
      if (!headers || !trailers) return PARSE_FAILURE;
      for (let i = 0; i < headers.length; i++) headers[i]![0] = lower(headers[i]![0]);
      const has = (name: string): boolean => headers.some((h) => h[0] === name && h[1] !== '');
      if (!has(':method') || !has(':path') || !has(':authority')) return BAD_ARGUMENT;
      if (!env.httpCall) return BAD_ARGUMENT;
      if (env.knownCluster && !env.knownCluster(cluster)) return BAD_ARGUMENT;
      const req: HttpCallRequest = { cluster, headers, body: mem.bytes(bPtr, bSize), trailers, timeoutMs: timeoutMs >>> 0 };
      const id = vm.nextCallId++;
      mem.setU32(retIdPtr, id);
      const httpCall = env.httpCall;
      startCall(() => httpCall(req), (resp) => vm.deliverHttpCallResponse(id, resp ?? undefined), () => vm.deliverHttpCallResponse(id, undefined));
      return OK;
    },
    proxy_grpc_call(upPtr: number, upSize: number, svcPtr: number, svcSize: number, mPtr: number, mSize: number,
      mdPtr: number, mdSize: number, msgPtr: number, msgSize: number, timeoutMs: number, retIdPtr: number): number {
      msgPtr >>>= 0; msgSize >>>= 0; retIdPtr >>>= 0;
      if (!vm.mem.ok(msgPtr, msgSize) || !vm.mem.ok(retIdPtr, 4)) return INVALID_MEMORY_ACCESS;
      const target = grpcTarget(upPtr, upSize, svcPtr, svcSize, mPtr, mSize, mdPtr, mdSize);
      if (typeof target === 'number') return target;
      if (!env.grpcCall) return BAD_ARGUMENT;
      const req = { ...target, message: vm.mem.bytes(msgPtr, msgSize), timeoutMs: timeoutMs >>> 0 };
      const id = vm.nextCallId++;
      vm.mem.setU32(retIdPtr, id);
      vm.grpcCalls.add(id);
      const grpcCall = env.grpcCall;
      startCall(() => grpcCall(req), (resp) => vm.deliverGrpcCallResponse(id, resp),
        (err) => vm.deliverGrpcCallResponse(id, { status: GrpcStatus.UNAVAILABLE, statusMessage: (err as Error)?.message ?? String(err), message: new Uint8Array(0) }));
      return OK;
    },
    proxy_grpc_stream(upPtr: number, upSize: number, svcPtr: number, svcSize: number, mPtr: number, mSize: number,
      mdPtr: number, mdSize: number, retIdPtr: number): number {
      retIdPtr >>>= 0;
      if (!vm.mem.ok(retIdPtr, 4)) return INVALID_MEMORY_ACCESS;
      const target = grpcTarget(upPtr, upSize, svcPtr, svcSize, mPtr, mSize, mdPtr, mdSize);
      if (typeof target === 'number') return target;
      if (!env.grpcStream) return BAD_ARGUMENT;
      const id = vm.nextCallId++;
      vm.mem.setU32(retIdPtr, id);
      const events = vm.grpcStreamEvents(id);
      try {
        vm.grpcStreams.set(id, { handle: env.grpcStream(target, events), localClosed: false });
      } catch (err) {
        // As a call that fails at once: the plugin hears it after this callback returns.
        const closed = { send() {}, close() {}, cancel() {} };
        vm.grpcStreams.set(id, { handle: closed, localClosed: false });
        queueMicrotask(() => events.close(GrpcStatus.UNAVAILABLE, (err as Error)?.message ?? String(err)));
      }
      return OK;
    },
    proxy_grpc_send(id: number, msgPtr: number, msgSize: number, endStream: number): number {
      id >>>= 0; msgPtr >>>= 0; msgSize >>>= 0;
      if (vm.grpcCalls.has(id)) return BAD_ARGUMENT;
      const s = vm.grpcStreams.get(id);
      if (!s) return NOT_FOUND;
      if (!vm.mem.ok(msgPtr, msgSize)) return INVALID_MEMORY_ACCESS;
      // After the plugin's side closed there is nothing to send on (as in Envoy, not an error).
      if (s.localClosed) return OK;
      s.handle.send(vm.mem.bytes(msgPtr, msgSize), endStream !== 0);
      if (endStream !== 0) s.localClosed = true;
      return OK;
    },
    // A unary call cancelled or closed by the plugin: no callback follows. A stream cancelled
    // is reset (no callback follows); a stream closed is half-closed (answers still arrive).
    proxy_grpc_cancel(id: number): number {
      id >>>= 0;
      if (vm.grpcCalls.delete(id)) return OK;
      const s = vm.grpcStreams.get(id);
      if (!s) return NOT_FOUND;
      vm.grpcStreams.delete(id);
      s.handle.cancel();
      return OK;
    },
    proxy_grpc_close(id: number): number {
      id >>>= 0;
      if (vm.grpcCalls.delete(id)) return OK;
      const s = vm.grpcStreams.get(id);
      if (!s) return NOT_FOUND;
      if (!s.localClosed) {
        s.localClosed = true;
        s.handle.close();
      }
      return OK;
    },

    // --- shared data and queues ------------------------------------------------------------
    proxy_set_shared_data(kPtr: number, kSize: number, vPtr: number, vSize: number, cas: number): number {
      kPtr >>>= 0; kSize >>>= 0; vPtr >>>= 0; vSize >>>= 0;
      const mem = vm.mem;
      if (!mem.ok(kPtr, kSize) || !mem.ok(vPtr, vSize)) return INVALID_MEMORY_ACCESS;
      const ok = vm.config.shared.set(sharedKey(mem.utf8(kPtr, kSize)), mem.u8.subarray(vPtr, vPtr + vSize), cas >>> 0);
      return ok ? OK : CAS_MISMATCH;
    },
    proxy_get_shared_data(kPtr: number, kSize: number, retPtrPtr: number, retSizePtr: number, retCasPtr: number): number {
      kPtr >>>= 0; kSize >>>= 0; retPtrPtr >>>= 0; retSizePtr >>>= 0; retCasPtr >>>= 0;
      const mem = vm.mem;
      if (!mem.ok(kPtr, kSize) || !mem.ok(retPtrPtr, 4) || !mem.ok(retSizePtr, 4) || !mem.ok(retCasPtr, 4)) return INVALID_MEMORY_ACCESS;
      const entry = vm.config.shared.get(sharedKey(mem.utf8(kPtr, kSize)));
      if (!entry) return NOT_FOUND;
      mem.returnBytes(entry.value, retPtrPtr, retSizePtr);
      mem.setU32(retCasPtr, entry.cas);
      return OK;
    },
    proxy_register_shared_queue(namePtr: number, nameSize: number, retIdPtr: number): number {
      namePtr >>>= 0; nameSize >>>= 0; retIdPtr >>>= 0;
      const name = strArg(namePtr, nameSize);
      if (name === undefined || !vm.mem.ok(retIdPtr, 4)) return INVALID_MEMORY_ACCESS;
      vm.mem.setU32(retIdPtr, vm.config.shared.registerQueue(vm.config.facts.vmId, name, vm));
      return OK;
    },
    proxy_resolve_shared_queue(vmIdPtr: number, vmIdSize: number, namePtr: number, nameSize: number, retIdPtr: number): number {
      vmIdPtr >>>= 0; vmIdSize >>>= 0; namePtr >>>= 0; nameSize >>>= 0; retIdPtr >>>= 0;
      const vmId = strArg(vmIdPtr, vmIdSize);
      const name = strArg(namePtr, nameSize);
      if (vmId === undefined || name === undefined || !vm.mem.ok(retIdPtr, 4)) return INVALID_MEMORY_ACCESS;
      const id = vm.config.shared.resolveQueue(vmId, name);
      if (id === undefined) return NOT_FOUND;
      vm.mem.setU32(retIdPtr, id);
      return OK;
    },
    proxy_enqueue_shared_queue(id: number, vPtr: number, vSize: number): number {
      vPtr >>>= 0; vSize >>>= 0;
      if (!vm.mem.ok(vPtr, vSize)) return INVALID_MEMORY_ACCESS;
      return vm.config.shared.enqueue(id >>> 0, vm.mem.u8.subarray(vPtr, vPtr + vSize)) ? OK : NOT_FOUND;
    },
    proxy_dequeue_shared_queue(id: number, retPtrPtr: number, retSizePtr: number): number {
      retPtrPtr >>>= 0; retSizePtr >>>= 0;
      if (!vm.mem.ok(retPtrPtr, 4) || !vm.mem.ok(retSizePtr, 4)) return INVALID_MEMORY_ACCESS;
      const r = vm.config.shared.dequeue(id >>> 0);
      if (!r) return NOT_FOUND;
      if (!r.value) return EMPTY;
      vm.mem.returnBytes(r.value, retPtrPtr, retSizePtr);
      return OK;
    },

    // --- metrics ---------------------------------------------------------------------------
    proxy_define_metric(type: number, namePtr: number, nameSize: number, retIdPtr: number): number {
      namePtr >>>= 0; nameSize >>>= 0; retIdPtr >>>= 0;
      const name = strArg(namePtr, nameSize);
      if (name === undefined || !vm.mem.ok(retIdPtr, 4)) return INVALID_MEMORY_ACCESS;
      const id = vm.config.metrics.define(type, name);
      if (id === undefined) return BAD_ARGUMENT;
      vm.mem.setU32(retIdPtr, id);
      return OK;
    },
    proxy_increment_metric(id: number, delta: bigint): number {
      return metricStatus(vm.config.metrics.increment(id >>> 0, BigInt(delta)));
    },
    proxy_record_metric(id: number, value: bigint): number {
      return metricStatus(vm.config.metrics.record(id >>> 0, BigInt.asUintN(64, BigInt(value))));
    },
    proxy_get_metric(id: number, retPtr: number): number {
      retPtr >>>= 0;
      if (!vm.mem.ok(retPtr, 8)) return INVALID_MEMORY_ACCESS;
      const v = vm.config.metrics.get(id >>> 0);
      if (typeof v !== 'bigint') return metricStatus(v);
      vm.mem.setU64(retPtr, BigInt.asUintN(64, v));
      return OK;
    },

    // --- properties and foreign functions --------------------------------------------------
    proxy_get_property(pPtr: number, pSize: number, retPtrPtr: number, retSizePtr: number): number {
      pPtr >>>= 0; pSize >>>= 0; retPtrPtr >>>= 0; retSizePtr >>>= 0;
      const mem = vm.mem;
      if (!mem.ok(pPtr, pSize) || !mem.ok(retPtrPtr, 4) || !mem.ok(retSizePtr, 4)) return INVALID_MEMORY_ACCESS;
      const name = propertyName(mem.utf8(pPtr, pSize));
      const port = vm.current.stream;
      // Well-known attributes first, as in Envoy (set_property writes filter state): a plugin cannot
      // spoof request.path, source.address... for the plugins after it.
      const value = readProperty(name, vm.config.facts, port, env.nowNs ? env.nowNs() : BigInt(Date.now()) * 1_000_000n) ??
        (port ? port.properties.get(name) : undefined) ?? vm.rootProperties.get(name);
      if (!value) return NOT_FOUND;
      mem.returnBytes(value, retPtrPtr, retSizePtr);
      return OK;
    },
    proxy_set_property(pPtr: number, pSize: number, vPtr: number, vSize: number): number {
      pPtr >>>= 0; pSize >>>= 0; vPtr >>>= 0; vSize >>>= 0;
      const mem = vm.mem;
      if (!mem.ok(pPtr, pSize) || !mem.ok(vPtr, vSize)) return INVALID_MEMORY_ACCESS;
      const name = propertyName(mem.utf8(pPtr, pSize));
      if (!name) return BAD_ARGUMENT;
      (vm.current.stream?.properties ?? vm.rootProperties).set(name, mem.bytes(vPtr, vSize));
      return OK;
    },
    proxy_call_foreign_function(nPtr: number, nSize: number, aPtr: number, aSize: number, retPtrPtr: number, retSizePtr: number): number {
      nPtr >>>= 0; nSize >>>= 0; aPtr >>>= 0; aSize >>>= 0; retPtrPtr >>>= 0; retSizePtr >>>= 0;
      const mem = vm.mem;
      if (!mem.ok(nPtr, nSize) || !mem.ok(aPtr, aSize) || !mem.ok(retPtrPtr, 4) || !mem.ok(retSizePtr, 4)) return INVALID_MEMORY_ACCESS;
      const fn = env.foreignFunctions?.get(mem.utf8(nPtr, nSize));
      if (!fn) return NOT_FOUND;
      let out: Uint8Array;
      try {
        out = fn(mem.bytes(aPtr, aSize));
      } catch (err) {
        vm.log(LogLevel.ERROR, `foreign function failed: ${(err as Error).message}`);
        return INTERNAL_FAILURE;
      }
      mem.returnBytes(out, retPtrPtr, retSizePtr);
      return OK;
    },

    // --- emscripten / pthread stubs cpp-host registers --------------------------------------
    pthread_equal(a: number, b: number): number { return a === b ? 1 : 0; },
    emscripten_notify_memory_growth(): void { vm.mem.refresh(); },
  };

  const wasi = wasiFunctions(vm);
  const imports: Record<string, Record<string, HostFn>> = { [ABI.hostModule]: host };
  for (const m of ABI.wasiModules) imports[m] = wasi;
  return imports;
}

function metricStatus(r: 'ok' | 'not-found' | 'bad-argument'): number {
  return r === 'ok' ? OK : r === 'not-found' ? NOT_FOUND : BAD_ARGUMENT;
}
