// Outbound gRPC from a plugin: unary calls (`proxy_grpc_call`) and streams (`proxy_grpc_stream`)
// to a Cluster. As with ClusterClient's HTTP calls, what comes back runs in the stream that made
// the call (the host delivers it to the root context), so a handler can resume or answer it.
import * as host from "./hostcalls";
import { BufferType, Header, MapType, WasmResult } from "./types";
import { HttpContext } from "./http-context";
import { Cluster } from "./cluster";
import { log } from "./log";

/** How a unary gRPC call ended: status 0 (OK) with the answer message, or a gRPC error status and its message. */
export class GrpcResponse {
  constructor(public status: u32, public statusMessage: string, public message: ArrayBuffer) {}
  /** True for status 0 (OK). */
  get ok(): bool { return this.status == 0; }
  /** The answer message as UTF-8 text. */
  messageText(): string { return String.UTF8.decode(this.message); }
}

/** Runs when a unary gRPC call ends, with the stream that made it. */
export type GrpcCallback = (ctx: HttpContext, response: GrpcResponse) => void;

/**
 * What a gRPC stream delivers, in this order: initial metadata, each message, trailing metadata,
 * then the close with its status. Extend it and override what the plugin needs; each method runs
 * with the stream that opened the gRPC stream.
 */
export class GrpcStreamHandler {
  onInitialMetadata(ctx: HttpContext, stream: GrpcStream, metadata: Array<Header>): void {}
  onMessage(ctx: HttpContext, stream: GrpcStream, message: ArrayBuffer): void {}
  onTrailingMetadata(ctx: HttpContext, stream: GrpcStream, metadata: Array<Header>): void {}
  /** The stream ended: status 0 (OK) or a gRPC error status with its message. */
  onClose(ctx: HttpContext, stream: GrpcStream, status: u32, message: string): void {}
}

/** An open gRPC stream. */
export class GrpcStream {
  constructor(public id: u32, public contextId: u32, public handler: GrpcStreamHandler) {}
  /** Sends one message; `endStream` half-closes the stream after it. False when the stream is gone. */
  send(message: ArrayBuffer, endStream: bool = false): bool { return host.grpcSend(this.id, message, endStream) == WasmResult.OK; }
  /** Sends one UTF-8 text message; see {@link send}. */
  sendText(message: string, endStream: bool = false): bool { return this.send(String.UTF8.encode(message), endStream); }
  /** Half-closes: the plugin sends no more; answers still arrive. */
  close(): void { host.grpcClose(this.id); }
  /** Resets the stream; no handler method runs after this. */
  cancel(): void {
    host.grpcCancel(this.id);
    streams!.delete(this.id);
  }
}

class PendingGrpcCall {
  constructor(public contextId: u32, public callback: GrpcCallback) {}
}
// Calls and streams in flight by id; created with the first GrpcClient.
let calls: Map<u32, PendingGrpcCall> | null = null;
let streams: Map<u32, GrpcStream> | null = null;

/** Makes gRPC calls and opens gRPC streams to one cluster. */
export class GrpcClient {
  constructor(public cluster: Cluster) {
    // Linked only when a plugin uses gRPC, so plugins without it stay small.
    grpcHook = deliverGrpcEvent;
    if (calls === null) calls = new Map<u32, PendingGrpcCall>();
    if (streams === null) streams = new Map<u32, GrpcStream>();
  }

  /**
   * Calls `/<service>/<method>` with `message` (serialized protobuf); `callback` runs with `ctx`
   * when the call ends. Returns false (and logs why) when the host refused the call; the handler
   * should then answer by itself. Handlers return `Action.PAUSE` after a successful call and
   * resume or answer in the callback.
   */
  call(ctx: HttpContext, service: string, method: string, metadata: Array<Header> | null, message: ArrayBuffer,
    callback: GrpcCallback, timeoutMs: u32 = 500): bool {
    const name = this.cluster.clusterName();
    const id = host.grpcCall(name, service, method, metadata === null ? new Array<Header>() : metadata, message, timeoutMs);
    if (id == 0) {
      log.error("grpc call to cluster " + name + " was refused by the host");
      return false;
    }
    calls!.set(id, new PendingGrpcCall(ctx.id, callback));
    return true;
  }

  /** Opens a stream to `/<service>/<method>`; `handler` hears what comes back. Null (logged) when the host refused it. */
  stream(ctx: HttpContext, service: string, method: string, metadata: Array<Header> | null, handler: GrpcStreamHandler): GrpcStream | null {
    const name = this.cluster.clusterName();
    const id = host.grpcStream(name, service, method, metadata === null ? new Array<Header>() : metadata);
    if (id == 0) {
      log.error("grpc stream to cluster " + name + " was refused by the host");
      return null;
    }
    const s = new GrpcStream(id, ctx.id, handler);
    streams!.set(id, s);
    return s;
  }
}

/** @internal The four gRPC callbacks, in the order a stream gets them. */
export enum GrpcEvent { INITIAL_METADATA, MESSAGE, TRAILING_METADATA, CLOSE }

/** @internal Set once a GrpcClient exists: how the dispatcher delivers gRPC callbacks. */
export let grpcHook: ((event: GrpcEvent, id: u32, n: u32, ctx: (id: u32) => HttpContext | null) => void) | null = null;

/**
 * @internal Delivers a gRPC callback to the stream that made the call. A unary call's answer
 * comes as MESSAGE (OK) or CLOSE (an error). A gRPC stream whose HTTP stream has ended is reset.
 */
export function deliverGrpcEvent(event: GrpcEvent, id: u32, n: u32, ctx: (id: u32) => HttpContext | null): void {
  if (calls!.has(id)) {
    const call = calls!.get(id);
    calls!.delete(id);
    const c = ctx(call.contextId);
    if (c === null) return; // the stream ended while the call was in flight
    let response: GrpcResponse;
    if (event == GrpcEvent.MESSAGE) {
      const b = n ? host.getBufferBytes(BufferType.GRPC_RECEIVE_BUFFER, 0, n) : null;
      response = new GrpcResponse(0, "", b === null ? new ArrayBuffer(0) : b);
    } else {
      response = new GrpcResponse(n, host.getStatusMessage(), new ArrayBuffer(0));
    }
    host.setEffectiveContext(call.contextId);
    call.callback(c, response);
    return;
  }
  if (!streams!.has(id)) return;
  const s = streams!.get(id);
  const c = ctx(s.contextId);
  if (c === null) {
    s.cancel();
    return;
  }
  host.setEffectiveContext(s.contextId);
  switch (event) {
    case GrpcEvent.INITIAL_METADATA:
      s.handler.onInitialMetadata(c, s, host.getHeaderMapPairs(MapType.GRPC_RECEIVE_INITIAL_METADATA));
      break;
    case GrpcEvent.MESSAGE: {
      const b = n ? host.getBufferBytes(BufferType.GRPC_RECEIVE_BUFFER, 0, n) : null;
      s.handler.onMessage(c, s, b === null ? new ArrayBuffer(0) : b);
      break;
    }
    case GrpcEvent.TRAILING_METADATA:
      s.handler.onTrailingMetadata(c, s, host.getHeaderMapPairs(MapType.GRPC_RECEIVE_TRAILING_METADATA));
      break;
    default:
      streams!.delete(id);
      s.handler.onClose(c, s, n, host.getStatusMessage());
  }
}
