/**
 * One wasm instance of a plugin: its memory, its contexts (one root, many streams), the
 * callbacks into it and the state host calls act on. Any exception escaping a callback (trap,
 * abort, proc_exit, bad allocator) marks the VM failed; it is never called again.
 */
import { ABI, LogLevel, MapType, StreamCallback } from '../../spec/index.js';
import { toVmFailure, VmFailureError, PluginLoadError, ProcExitSignal } from './errors.js';
import { MemoryView } from './memory-view.js';
import type { PluginModule } from './plugin-module.js';
import type {
  GrpcCallResponse, GrpcStreamEvents, GrpcStreamHandle, HeaderList, HostEnvironment, HttpCallResponse, SharedState, SharedQueueOwner,
} from './types.js';
import type { StreamPort } from './stream-port.js';
import type { MetricRegistry } from './metric-registry.js';
import { buildImports } from './host-functions.js';
import { Wasm, type WasmInstance, type WasmMemory } from './wasm-api.js';
import type { PluginFacts } from './properties.js';

type Fn = (...args: number[]) => number;

/** A gRPC stream the plugin opened, until it ends. */
export interface GrpcStreamState {
  handle: GrpcStreamHandle;
  /** The plugin half-closed it (sends nothing more). */
  localClosed: boolean;
}

/** Something that holds a stream context in a VM and must hear when that VM fails. */
export interface VmUser {
  vmFailed(vm: Vm): void;
}

/** A context inside the VM: the root (plugin) context or a stream context. */
export class Context {
  /** Given when a VM registers the context ({@link Vm.newContext}, {@link Vm.adopt}); fixed after. */
  id: number;
  /** The stream host calls on this context reach; undefined for the root context. */
  stream: StreamPort | undefined;
  /** Hears when the VM fails while this context is live. */
  user: VmUser | undefined;

  constructor(id = 0, stream?: StreamPort, user?: VmUser) {
    this.id = id;
    this.stream = stream;
    this.user = user;
  }
}

/**
 * The live contexts of a VM by id: open addressing over a power-of-two array (ids are
 * sequential, so `id & mask` spreads them), removal by backward shift (no tombstones). Unlike a
 * Map, adding and removing a stream's context allocates nothing once the table has grown to the
 * number of streams in flight.
 */
export class ContextTable {
  private slots: Array<Context | undefined> = new Array<Context | undefined>(8).fill(undefined);
  private mask = 7;
  /** Number of live contexts. */
  size = 0;

  /** The live context with this id, or undefined. */
  get(id: number): Context | undefined {
    const slots = this.slots;
    const mask = this.mask;
    for (let i = id & mask; ; i = (i + 1) & mask) {
      const c = slots[i];
      if (c === undefined || c.id === id) return c;
    }
  }

  /** Adds a context (ids are unique). */
  add(ctx: Context): void {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    this.place(ctx);
    this.size++;
  }

  /** Removes the context with this id; false when there is none. */
  delete(id: number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    let hole = id & mask;
    for (;;) {
      const c = slots[hole];
      if (c === undefined) return false;
      if (c.id === id) break;
      hole = (hole + 1) & mask;
    }
    // Pull later members of the probe run into the hole when the hole lies on their probe path.
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const c = slots[j];
      if (c === undefined) break;
      const home = c.id & mask;
      if (((hole - home) & mask) < ((j - home) & mask)) {
        slots[hole] = c;
        hole = j;
      }
    }
    slots[hole] = undefined;
    this.size--;
    return true;
  }

  /** The live contexts, in no particular order (a copy). */
  list(): Context[] {
    const out: Context[] = [];
    for (const c of this.slots) if (c !== undefined) out.push(c);
    return out;
  }

  private place(ctx: Context): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = ctx.id & mask;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = ctx;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Array<Context | undefined>(old.length * 2).fill(undefined);
    this.mask = old.length * 2 - 1;
    for (const c of old) if (c !== undefined) this.place(c);
  }
}

/** Callbacks a VM makes to its owner (the {@link Plugin}). */
export interface VmOwner {
  vmFailed(vm: Vm, err: VmFailureError): void;
  log(level: number, message: string): void;
}

/** Plugin exports the host calls, looked up once. */
export interface Exports {
  contextCreate?: Fn; vmStart?: Fn; configure?: Fn; validateConfiguration?: Fn; tick?: Fn; queueReady?: Fn;
  foreignFunction?: Fn; requestHeaders?: Fn; requestBody?: Fn; requestTrailers?: Fn; responseHeaders?: Fn;
  responseBody?: Fn; responseTrailers?: Fn; httpCallResponse?: Fn; grpcInitialMetadata?: Fn; grpcReceive?: Fn; grpcTrailingMetadata?: Fn;
  grpcClose?: Fn; done?: Fn; log?: Fn; delete?: Fn;
}

const EXPORT_NAMES: Record<keyof Exports, string> = {
  contextCreate: 'proxy_on_context_create', vmStart: 'proxy_on_vm_start', configure: 'proxy_on_configure',
  validateConfiguration: 'proxy_validate_configuration', tick: 'proxy_on_tick', queueReady: 'proxy_on_queue_ready',
  foreignFunction: 'proxy_on_foreign_function', requestHeaders: 'proxy_on_request_headers', requestBody: 'proxy_on_request_body',
  requestTrailers: 'proxy_on_request_trailers', responseHeaders: 'proxy_on_response_headers', responseBody: 'proxy_on_response_body',
  responseTrailers: 'proxy_on_response_trailers', httpCallResponse: 'proxy_on_http_call_response',
  grpcInitialMetadata: 'proxy_on_grpc_receive_initial_metadata', grpcReceive: 'proxy_on_grpc_receive',
  grpcTrailingMetadata: 'proxy_on_grpc_receive_trailing_metadata', grpcClose: 'proxy_on_grpc_close', done: 'proxy_on_done',
  log: 'proxy_on_log', delete: 'proxy_on_delete',
};

/** Stream callbacks by their bit in the SDK's `higress_plugin_callbacks` answer (spec/abi.json `extensions`). */
const CALLBACK_BITS: ReadonlyArray<readonly [number, keyof Exports]> = [
  [StreamCallback.REQUEST_HEADERS, 'requestHeaders'], [StreamCallback.REQUEST_BODY, 'requestBody'],
  [StreamCallback.REQUEST_TRAILERS, 'requestTrailers'], [StreamCallback.RESPONSE_HEADERS, 'responseHeaders'],
  [StreamCallback.RESPONSE_BODY, 'responseBody'], [StreamCallback.RESPONSE_TRAILERS, 'responseTrailers'],
];

/** Everything a VM needs from its plugin's configuration. */
export interface VmConfig {
  facts: PluginFacts;
  env: HostEnvironment;
  shared: SharedState;
  metrics: MetricRegistry;
  vmConfiguration: Uint8Array;
  configuration: Uint8Array;
  memoryLimitBytes: number;
  /** Hard cap (memory.grow fails past it). */
  memoryCapBytes: number;
}

/** A failed result of {@link Vm.call}. */
export const FAILED = -1;

/** One plugin VM: instantiate from a compiled module, then call its exports through {@link Vm.call}. */
export class Vm implements SharedQueueOwner {
  readonly instance: WasmInstance;
  /** Until instantiation finishes (start section), an empty memory: every pointer is out of bounds. */
  mem: MemoryView = new MemoryView(new Wasm.Memory({ initial: 0 }));
  readonly exports: Exports = {};
  /** Live contexts by id (root and streams). */
  readonly contexts = new ContextTable();
  readonly root: Context;
  /** Context host calls act on (the callback's context, or one set with proxy_set_effective_context). */
  current: Context;
  /** Set when the VM failed; never called again. */
  failure: VmFailureError | undefined;
  /** Linear memory passed the soft ceiling after some callback: rebuild when idle. */
  overLimit = false;
  /** Streams currently using this VM. */
  activeStreams = 0;
  /** proxy_done was called (root context finished its async work). */
  doneCalled = false;
  /** HTTP call response being delivered (maps 6/7, buffer 4), only during the callback. */
  callResponse: HttpCallResponse | undefined;
  /** Foreign-function argument bytes (buffer 8), only during proxy_on_foreign_function. */
  callData: Uint8Array | undefined;
  /** A gRPC message (buffer 5), only during proxy_on_grpc_receive. */
  grpcMessage: Uint8Array | undefined;
  /** A gRPC stream's initial or trailing metadata (maps 4 and 5), only during their callbacks. */
  grpcMetadata: { type: number; list: HeaderList } | undefined;
  /** Unary gRPC calls in flight that the plugin has not cancelled or closed. */
  readonly grpcCalls = new Set<number>();
  /** Open gRPC streams by call id, until they end or the plugin cancels them. */
  readonly grpcStreams = new Map<number, GrpcStreamState>();
  /** Last status for proxy_get_status. */
  status = { code: 0, message: '' };
  /** Properties set on the root context. */
  readonly rootProperties = new Map<string, Uint8Array>();
  nextCallId = 1;
  private nextContextId = 1;
  private ticker: { cancel(): void } | undefined;

  constructor(readonly module: PluginModule, readonly config: VmConfig, readonly owner: VmOwner) {
    this.root = this.newContext(undefined);
    this.current = this.root;
    const imports = buildImports(this);
    const wasmModule = module.withMemoryCap(config.memoryCapBytes);
    try {
      this.instance = new Wasm.Instance(wasmModule, imports);
    } catch (err) {
      const msg = err instanceof ProcExitSignal ? err.message : (err as Error).message;
      throw new PluginLoadError('HP_INSTANTIATE_FAILED', `cannot instantiate ${module.source}: ${msg}`, { plugin: config.facts.name, cause: err });
    }
    const ex = this.instance.exports as Record<string, unknown>;
    this.mem = new MemoryView(ex.memory as WasmMemory);
    this.mem.setAllocator(ex[module.allocator] as Fn);
    for (const [k, name] of Object.entries(EXPORT_NAMES)) {
      if (typeof ex[name] === 'function') this.exports[k as keyof Exports] = ex[name] as Fn;
    }
  }

  /** Plugin name (for messages). */
  get name(): string { return this.config.facts.name; }
  /** ABI version of the module. */
  get abi(): string { return this.module.abiVersion; }

  /** Allocates a context id and registers it; `user` (if any) hears when this VM fails while
   * the context is live (until `contexts.delete(ctx.id)`). */
  newContext(stream: StreamPort | undefined, user?: VmUser): Context {
    return this.adopt(new Context(0, stream, user));
  }

  /** Registers `ctx`, a context object not yet registered anywhere (e.g. a subclass that is
   * also its stream's port, saving an object per stream), under the next id. */
  adopt<C extends Context>(ctx: C): C {
    ctx.id = this.nextContextId++;
    this.contexts.add(ctx);
    return ctx;
  }

  /**
   * Calls `fn` on behalf of `ctx` with up to four more arguments. Returns the callback's result
   * (unsigned), or {@link FAILED} when the VM failed (now or before). Never throws.
   */
  call(name: string, fn: Fn | undefined, ctx: Context, a = 0, b = 0, c = 0, d = 0): number {
    if (this.failure || !fn) return FAILED;
    const prev = this.current;
    this.current = ctx;
    let result: number;
    try {
      result = fn(ctx.id, a, b, c, d) >>> 0;
    } catch (err) {
      this.fail(toVmFailure(this.name, name, err));
      return FAILED;
    } finally {
      this.current = prev;
    }
    const mem = this.mem;
    mem.refresh();
    if (mem.u8.length > this.config.memoryLimitBytes) this.overLimit = true;
    return result;
  }

  /**
   * Forgets the stream callbacks the plugin says it has no handler for (the optional
   * `higress_plugin_callbacks` export of our SDK): they would only answer Continue, and a body
   * no plugin handles then streams past the VM. Modules without the export keep every callback.
   */
  dropUnhandledCallbacks(): void {
    const fn = (this.instance.exports as Record<string, unknown>)[ABI.extensions.callbacksExport];
    if (typeof fn !== 'function') return;
    const bits = this.call(ABI.extensions.callbacksExport, fn as Fn, this.root);
    if (bits === FAILED) return;
    for (const [bit, key] of CALLBACK_BITS) if ((bits & bit) === 0) this.exports[key] = undefined;
    // Inverted, so that modules built before the bit existed keep their stream-end callbacks.
    if ((bits & StreamCallback.NO_STREAM_DONE) !== 0) this.exports.done = this.exports.log = undefined;
  }

  /** Runs start-up: `_initialize` (+ `main`/`__main_void`) or `_start`. proc_exit(0) during start-up is a normal end. */
  startUp(): void {
    const ex = this.instance.exports as Record<string, unknown>;
    const run = (name: string, ...args: number[]): void => {
      const fn = ex[name];
      if (typeof fn !== 'function' || this.failure) return;
      try {
        (fn as Fn)(...args);
      } catch (err) {
        if (err instanceof ProcExitSignal && err.exitCode === 0) return;
        this.fail(toVmFailure(this.name, name, err));
      }
    };
    if (typeof ex._initialize === 'function') {
      run('_initialize');
      if (typeof ex.main === 'function') run('main', 0, 0);
      else if (typeof ex.__main_void === 'function') run('__main_void');
    } else if (typeof ex._start === 'function') run('_start');
  }

  /** Marks the VM failed (first failure wins), stops its ticker and streams and tells the owner. */
  fail(err: VmFailureError): void {
    if (this.failure) return;
    this.failure = err;
    this.stopBackgroundWork();
    this.owner.log(LogLevel.ERROR, err.message);
    this.owner.vmFailed(this, err);
  }

  /** Root-context log line (also used for the host's own messages about this plugin). */
  log(level: number, message: string): void { this.owner.log(level, message); }

  // --- ticks -------------------------------------------------------------------------------

  /** `proxy_set_tick_period_milliseconds`: (re)arms the ticker; 0 stops it. */
  setTickPeriod(ms: number): void {
    this.cancelTicker();
    if (ms <= 0) return;
    const fire = (): void => { this.call('proxy_on_tick', this.exports.tick, this.root); };
    const env = this.config.env;
    if (env.setTicker) this.ticker = env.setTicker(ms, fire);
    else {
      const t = setInterval(fire, ms);
      t.unref();
      this.ticker = { cancel: () => clearInterval(t) };
    }
  }

  /** Stops ticks. */
  cancelTicker(): void {
    this.ticker?.cancel();
    this.ticker = undefined;
  }

  /** Stops what runs without a stream (failure, shutdown): ticks and open gRPC streams. */
  private stopBackgroundWork(): void {
    this.cancelTicker();
    for (const s of this.grpcStreams.values()) s.handle.cancel();
    this.grpcStreams.clear();
  }

  // --- async deliveries to the root context -------------------------------------------------

  /** Delivers an HTTP call answer (undefined = failed call) to `proxy_on_http_call_response`. */
  deliverHttpCallResponse(callId: number, resp: HttpCallResponse | undefined): void {
    if (this.failure) return;
    this.callResponse = resp ?? { headers: [], body: new Uint8Array(0), trailers: [] };
    this.status = resp ? { code: 0, message: '' } : { code: 14, message: 'http call failed' };
    try {
      this.call('proxy_on_http_call_response', this.exports.httpCallResponse, this.root, callId,
        resp ? resp.headers.length : 0, resp ? resp.body.length : 0, resp ? resp.trailers.length : 0);
    } finally {
      this.callResponse = undefined;
    }
  }

  /**
   * Delivers how a gRPC call ended, as Envoy does for a unary call: `proxy_on_grpc_receive` with
   * the message (buffer 5) on OK, else `proxy_on_grpc_close` with the status (its message from
   * `proxy_get_status`). Nothing for a call the plugin cancelled or closed.
   */
  deliverGrpcCallResponse(callId: number, resp: GrpcCallResponse): void {
    if (!this.grpcCalls.delete(callId) || this.failure) return;
    if (resp.status === 0) {
      this.grpcMessage = resp.message;
      try {
        this.call('proxy_on_grpc_receive', this.exports.grpcReceive, this.root, callId, resp.message.length);
      } finally {
        this.grpcMessage = undefined;
      }
      return;
    }
    this.status = { code: resp.status, message: resp.statusMessage };
    this.call('proxy_on_grpc_close', this.exports.grpcClose, this.root, callId, resp.status);
  }

  /**
   * The events of gRPC stream `callId`, delivered to the root context as Envoy does: initial
   * metadata (map 4), each message (buffer 5), trailing metadata (map 5), then
   * `proxy_on_grpc_close` with the status (message from `proxy_get_status`). Nothing reaches the
   * plugin once it cancelled the stream or the VM failed.
   */
  grpcStreamEvents(callId: number): GrpcStreamEvents {
    const live = (): GrpcStreamState | undefined => (this.failure ? undefined : this.grpcStreams.get(callId));
    const metadata = (type: number, name: string, fn: Fn | undefined, list: HeaderList): void => {
      if (!live()) return;
      this.grpcMetadata = { type, list };
      try {
        this.call(name, fn, this.root, callId, list.length);
      } finally {
        this.grpcMetadata = undefined;
      }
    };
    return {
      initialMetadata: (list) => metadata(MapType.GRPC_RECEIVE_INITIAL_METADATA, 'proxy_on_grpc_receive_initial_metadata', this.exports.grpcInitialMetadata, list),
      message: (message) => {
        if (!live()) return;
        this.grpcMessage = message;
        try {
          this.call('proxy_on_grpc_receive', this.exports.grpcReceive, this.root, callId, message.length);
        } finally {
          this.grpcMessage = undefined;
        }
      },
      trailingMetadata: (list) => metadata(MapType.GRPC_RECEIVE_TRAILING_METADATA, 'proxy_on_grpc_receive_trailing_metadata', this.exports.grpcTrailingMetadata, list),
      close: (status, message) => {
        if (!live()) return;
        // The stream is over. (Envoy keeps a stream the plugin has not closed until it does, so
        // there a later proxy_grpc_close answers OK, here NOT_FOUND; nothing is kept per stream.)
        this.grpcStreams.delete(callId);
        this.status = { code: status, message };
        this.call('proxy_on_grpc_close', this.exports.grpcClose, this.root, callId, status);
      },
    };
  }

  /** SharedQueueOwner: an item arrived on a queue this VM registered. */
  queueReady(queueId: number): void {
    this.call('proxy_on_queue_ready', this.exports.queueReady, this.root, queueId);
  }

  /**
   * Ends the root context: `proxy_on_done`; when it returns false the plugin still has work in
   * flight and signals the end with `proxy_done` (waited for up to `graceMs`); then
   * `proxy_on_delete`. Resolves when the root context is deleted.
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    if (this.failure || this.deleted) {
      this.stopBackgroundWork();
      return;
    }
    const r = this.call('proxy_on_done', this.exports.done, this.root);
    if (r === 0 && !this.doneCalled && !this.failure) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        timer.unref();
        this.onProxyDone = () => {
          clearTimeout(timer);
          // after the callback that called proxy_done returns
          queueMicrotask(resolve);
        };
      });
      this.onProxyDone = undefined;
    }
    this.stopBackgroundWork();
    this.deleted = true;
    this.call('proxy_on_delete', this.exports.delete, this.root);
  }

  /** Set while shutdown waits for proxy_done. */
  onProxyDone: (() => void) | undefined;
  /** The root context was deleted. */
  deleted = false;
}
