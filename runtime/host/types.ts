/**
 * The one interface between the proxy-wasm host and whatever drives it (the gateway's proxy or
 * the test emulator). The host knows nothing of Node's HTTP servers; the proxy knows nothing of
 * wasm memory. Everything here is plain data and promises.
 */

/** Ordered header list, names lower-case, pseudo-headers (`:method`, `:path`, `:authority`,
 * `:scheme`, `:status`) included and first. Values are strings (latin1-safe). */
export type HeaderList = Array<[string, string]>;

/** Envoy-style failure policy for a plugin whose VM failed (trap, abort, proc_exit, bad allocator). */
export type FailStrategy = 'FAIL_CLOSE' | 'FAIL_OPEN' | 'FAIL_RELOAD';

/** Facts about one HTTP stream that the host turns into proxy-wasm properties (REFERENCE §1).
 * Anything missing reads as NOT_FOUND. Request/response headers come from the header maps. */
export interface StreamInfo {
  /** Stream start, ns since the epoch (`request.time`). */
  startTimeNs: bigint;
  requestId?: string;
  /** `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`. */
  protocol?: string;
  sourceAddress?: string;
  sourcePort?: number;
  destinationAddress?: string;
  destinationPort?: number;
  connectionId?: number;
  mtls?: boolean;
  requestedServerName?: string;
  /** Higress route name, `<namespace>/<name>` (read by the SDK's rule scoping). */
  routeName?: string;
  /** `outbound|<port>|<subset>|<fqdn>` (read by the SDK's rule scoping). */
  clusterName?: string;
  upstreamAddress?: string;
  responseCode?: number;
  responseCodeDetails?: string;
  /** 0 unspecified, 1 inbound, 2 outbound. Default outbound, as a Higress gateway. */
  listenerDirection?: number;
}

/** A response a plugin asked the proxy to send instead of proxying (`proxy_send_local_response`). */
export interface LocalResponse {
  status: number;
  headers: HeaderList;
  body: Uint8Array;
  details: string;
  /** -1 = none. */
  grpcStatus: number;
}

/** Outcome of one chain phase, for the proxy to act on. */
export type PhaseResult =
  /** Go on: forward these (possibly rewritten) headers / bytes. `data` may be empty while plugins buffer.
   * A headers phase may resolve WITHOUT `headers` when a plugin stopped header iteration to look at
   * the body first (Envoy StopIteration): feed the body; the headers come with a later data result,
   * always before that result's data. A trailers phase answers with the trailers in `headers`.
   * (Host addition: documents existing behaviour.) */
  | { kind: 'continue'; headers?: HeaderList; data?: Uint8Array }
  /** Send this response downstream instead (already passed through the response callbacks of the
   * plugins that ran before the one that sent it). Nothing more is forwarded upstream. */
  | { kind: 'local'; response: LocalResponse }
  /** Reset the stream (`proxy_close_stream`, or a failure the fail strategy answers by closing). */
  | { kind: 'reset'; reason: string };

/** An outbound call a plugin made with `proxy_http_call`. The gateway resolves `cluster`. */
export interface HttpCallRequest {
  cluster: string;
  headers: HeaderList;
  body: Uint8Array;
  trailers: HeaderList;
  timeoutMs: number;
}
export interface HttpCallResponse {
  headers: HeaderList;
  body: Uint8Array;
  trailers: HeaderList;
}

/** A gRPC stream a plugin opened with `proxy_grpc_stream`: `/<service>/<method>` on `cluster`. */
export interface GrpcStreamRequest {
  cluster: string;
  service: string;
  method: string;
  /** Initial metadata (request headers), names lower-case. */
  metadata: HeaderList;
}
/** A unary gRPC call a plugin made with `proxy_grpc_call`. */
export interface GrpcCallRequest extends GrpcStreamRequest {
  /** The serialized request message (without gRPC's length prefix). */
  message: Uint8Array;
  timeoutMs: number;
}
/** What a gRPC stream delivers to the host, in this order: initial metadata, messages, trailing metadata, close. */
export interface GrpcStreamEvents {
  initialMetadata(metadata: HeaderList): void;
  /** One message (without gRPC's length prefix). */
  message(message: Uint8Array): void;
  trailingMetadata(metadata: HeaderList): void;
  /** The stream ended: status 0 (OK) or a gRPC error status with its message. Last event. */
  close(status: number, message: string): void;
}
/** The host's end of an open gRPC stream. */
export interface GrpcStreamHandle {
  /** Sends one message; `endStream` half-closes after it. */
  send(message: Uint8Array, endStream: boolean): void;
  /** Half-closes: the plugin sends no more; answers still arrive. */
  close(): void;
  /** Resets the stream; no event follows. */
  cancel(): void;
}
/** How a gRPC call ended: status 0 (OK) with the response message, or a gRPC error status. */
export interface GrpcCallResponse {
  status: number;
  statusMessage: string;
  message: Uint8Array;
}

/** What the host needs from the process it runs in; every member optional with the default given. */
export interface HostEnvironment {
  /** Plugin log sink. Default: stderr with `[plugin-name]` prefix. */
  log?(level: number, pluginName: string, message: string): void;
  /** Minimum level the plugin should log at (`proxy_get_log_level`). Default INFO (2). */
  logLevel?: number;
  /** Performs `proxy_http_call`. Rejects (or resolves `undefined`) when the call failed:
   * the plugin then sees `num_headers == 0`. Default: every call fails with BAD_ARGUMENT
   * at call time ("no cluster"). `knownCluster` lets the host refuse unknown clusters up front. */
  httpCall?(req: HttpCallRequest): Promise<HttpCallResponse | undefined>;
  knownCluster?(cluster: string): boolean;
  /** Performs a unary `proxy_grpc_call`; a rejection counts as status UNAVAILABLE (14). Default:
   * every call fails with BAD_ARGUMENT at call time. */
  grpcCall?(req: GrpcCallRequest): Promise<GrpcCallResponse>;
  /** Opens a streaming gRPC call (`proxy_grpc_stream`); what arrives goes to `events`. A throw
   * ends the stream with UNAVAILABLE. Default: every stream fails with BAD_ARGUMENT at call time. */
  grpcStream?(req: GrpcStreamRequest, events: GrpcStreamEvents): GrpcStreamHandle;
  /** Foreign functions by name (`proxy_call_foreign_function`); unknown name → NOT_FOUND. */
  foreignFunctions?: Map<string, (args: Uint8Array) => Uint8Array>;
  /** Shared data and queues, shared by all VMs of one process (pass the same object, e.g. the
   * host's `InMemorySharedState`); default one per process. */
  shared?: SharedState;
  /** Metric registry the gateway reads for Prometheus (pass the same object to every VM). Must be
   * a `MetricRegistry` from the host (it defines and updates metrics); default one per process. */
  metrics?: MetricStore;
  /** Clock, ns since the epoch. Default: real time. The emulator makes it controllable. */
  nowNs?(): bigint;
  /** Tick scheduler. Default: setInterval. The emulator drives ticks by hand. */
  setTicker?(periodMs: number, fire: () => void): { cancel(): void };
  /** `vmConfig.env`: what WASI `environ_get` returns. Default: nothing. */
  env?: Record<string, string>;
}

/** Shared data (key → bytes + CAS) and shared queues. Implemented in `shared-state.ts`. */
export interface SharedState {
  get(key: string): { value: Uint8Array; cas: number } | undefined;
  /** cas 0 = unconditional. Returns false on CAS mismatch. */
  set(key: string, value: Uint8Array, cas: number): boolean;
  /** Registers (or re-owns) the queue `name` of VM id `vmId`; returns its id. Added by the host. */
  registerQueue(vmId: string, name: string, owner: SharedQueueOwner): number;
  /** Id of a registered queue, undefined when none. */
  resolveQueue(vmId: string, name: string): number | undefined;
  /** Appends to a queue and notifies its owner (asynchronously). False when no such queue. */
  enqueue(id: number, value: Uint8Array): boolean;
  /** Takes the oldest item: undefined = no such queue, `{}` = queue empty. */
  dequeue(id: number): { value?: Uint8Array } | undefined;
}

/** The root context that registered a shared queue: told when an item arrives. */
export interface SharedQueueOwner {
  queueReady(queueId: number): void;
}

/** A plugin-defined metric, as the gateway exports it. */
export interface MetricSample {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  value: bigint;
  /** Histogram only: recorded values. */
  histogram?: { count: number; sum: number; buckets: Array<[le: number, count: number]> };
}
export interface MetricStore {
  samples(): MetricSample[];
}

/** How a plugin is set up: what a route's WasmPlugin becomes. */
export interface PluginOptions {
  /** Plugin name (WasmPlugin `pluginName`, the root id); shown in logs and errors. */
  name: string;
  /** Root id (`plugin_root_id`) when it differs from `name`; default `name`. (Host addition.) */
  rootId?: string;
  /** VM id (`plugin_vm_id`); default "". */
  vmId?: string;
  /** Plugin configuration bytes (JSON for Higress plugins); default empty. */
  configuration?: Uint8Array | string;
  /** VM configuration bytes; default empty. */
  vmConfiguration?: Uint8Array | string;
  /** Default FAIL_CLOSE. */
  failStrategy?: FailStrategy;
  /** Linear memory ceiling in bytes, checked after each callback; default 256 MiB. */
  memoryLimitBytes?: number;
  /** Body bytes a plugin may make the proxy buffer per direction; default 10 MiB (413/500 beyond). */
  bodyBufferLimitBytes?: number;
  env?: HostEnvironment;
}
