/**
 * A test emulator for proxy-wasm plugins (any SDK): loads a .wasm with VM/plugin configuration,
 * drives HTTP streams through it, and exposes what the plugin did — actions, mutated headers and
 * bodies, local responses, logs, metrics, outbound HTTP calls (answerable), ticks, shared data.
 * It runs the real host ({@link Plugin}, {@link FilterChain}) with a controllable clock.
 */
import { readFile } from 'node:fs/promises';
import { enumName, LogLevel } from '../../spec/index.js';
import { PluginModule } from '../host/plugin-module.js';
import { Plugin } from '../host/plugin.js';
import { FilterChain } from '../host/filter-chain.js';
import { InMemorySharedState } from '../host/shared-state.js';
import { MetricRegistry } from '../host/metric-registry.js';
import type {
  FailStrategy, GrpcCallRequest, GrpcCallResponse, GrpcStreamEvents, GrpcStreamHandle, GrpcStreamRequest, HeaderList, HttpCallRequest, HttpCallResponse, LocalResponse, MetricSample, PhaseResult, SharedState, StreamInfo,
} from '../host/types.js';

/** Options of {@link Emulator.load}; every one optional. */
export interface EmulatorOptions {
  /** Plugin name / root id; default "test-plugin". */
  name?: string;
  /** Plugin configuration; an object is JSON-stringified; default empty. */
  configuration?: string | Uint8Array | object;
  /** VM configuration; default empty. */
  vmConfiguration?: string | Uint8Array;
  /** `plugin_vm_id`; default "". */
  vmId?: string;
  /** `plugin_root_id`; default the name. */
  rootId?: string;
  /** Default FAIL_CLOSE. */
  failStrategy?: FailStrategy;
  /** Memory ceiling per VM; default 256 MiB. */
  memoryLimitBytes?: number;
  /** Body buffer limit per direction; default 10 MiB. */
  bodyBufferLimitBytes?: number;
  /** What `proxy_get_log_level` answers; default TRACE (0) so every log line is captured. */
  logLevel?: number;
  /** Foreign functions by name; default none (calls get NOT_FOUND). */
  foreignFunctions?: Record<string, (args: Uint8Array) => Uint8Array> | Map<string, (args: Uint8Array) => Uint8Array>;
  /** WASI environment (`vmConfig.env`); default empty. */
  env?: Record<string, string>;
  /** Clusters `proxy_http_call` may name; default any. */
  knownClusters?: string[];
  /** Clock start, ns since the epoch; default the real time at load. */
  startTimeNs?: bigint;
  /** Shared data/queues to use (share one between emulators to test cross-plugin data); default a fresh one. */
  shared?: SharedState;
  /** Metrics registry to use; default a fresh one. */
  metrics?: MetricRegistry;
  /** Also print plugin logs to stderr; default false. */
  printLogs?: boolean;
}

/** A captured plugin log line. */
export interface LogEntry {
  level: number;
  levelName: string;
  message: string;
}

/** An outbound `proxy_http_call` waiting for its answer. */
export interface EmulatedHttpCall {
  request: HttpCallRequest;
  /** Answers the call (nothing = a failed call) and resolves once the plugin has handled it. */
  respond(r?: { status?: number; headers?: HeaderList; body?: string | Uint8Array; trailers?: HeaderList }): Promise<void>;
  /** True once answered. */
  readonly answered: boolean;
}

/** A unary gRPC call the plugin made (`proxy_grpc_call`), waiting for the test to answer it. */
export interface EmulatedGrpcCall {
  request: GrpcCallRequest;
  /**
   * Ends the call: `message` with status 0 (the default) reaches `proxy_on_grpc_receive`; another
   * status reaches `proxy_on_grpc_close`. Resolves once the plugin has handled it.
   */
  respond(r?: { status?: number; statusMessage?: string; message?: string | Uint8Array }): Promise<void>;
  /** True once answered. */
  readonly answered: boolean;
}

/** A gRPC stream the plugin opened (`proxy_grpc_stream`): the test plays the server. */
export interface EmulatedGrpcStream {
  request: GrpcStreamRequest;
  /** Messages the plugin sent, in order. */
  readonly sent: Uint8Array[];
  /** The plugin half-closed the stream (`proxy_grpc_close`, or a send with end_stream). */
  readonly localClosed: boolean;
  /** The plugin cancelled the stream (`proxy_grpc_cancel`), or its VM went away. */
  readonly cancelled: boolean;
  /** Each of these delivers one server event to the plugin and resolves once it has handled it. */
  initialMetadata(metadata?: HeaderList): Promise<void>;
  message(message: string | Uint8Array): Promise<void>;
  trailingMetadata(metadata: HeaderList): Promise<void>;
  /** Ends the stream with `status` (default 0, OK). */
  close(status?: number, statusMessage?: string): Promise<void>;
}

/** Lets queued microtasks (host deliveries, chain pumps) run. */
function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

function toBytes(v: string | Uint8Array | undefined): Uint8Array {
  if (v === undefined) return new Uint8Array(0);
  return typeof v === 'string' ? new TextEncoder().encode(v) : v;
}

/** Header strings are byte strings on the wire: test input is text, so any non-ASCII string
 * becomes its UTF-8 bytes, one char each;
 * names are lower-cased (as HTTP/2 and Node's HTTP stack give them). */
export function toHeaderList(list: HeaderList): HeaderList {
  return list.map(([k, v]) => [byteString(k).toLowerCase(), byteString(v)]);
}

function byteString(s: string): string {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'utf8').toString('latin1');
  return s;
}

/** One plugin loaded into an emulated host. */
export class Emulator {
  /** Everything the plugin logged (and host messages about it), in order. */
  readonly logs: LogEntry[] = [];
  /** Outbound HTTP calls, in the order made. */
  readonly httpCalls: EmulatedHttpCall[] = [];
  /** Outbound unary gRPC calls, in the order made. */
  readonly grpcCalls: EmulatedGrpcCall[] = [];
  /** gRPC streams, in the order opened. */
  readonly grpcStreams: EmulatedGrpcStream[] = [];
  /** Shared data and queues of this emulator. */
  readonly sharedData: SharedState;
  /** Metrics of this emulator. */
  readonly metricRegistry: MetricRegistry;
  /** The host-side plugin (VM, stats, fail strategy). */
  plugin!: Plugin;
  private clockNs: bigint;
  private ticker: { period: number; next: bigint; fire: () => void } | undefined;

  private constructor(options: EmulatorOptions) {
    this.clockNs = options.startTimeNs ?? BigInt(Date.now()) * 1_000_000n;
    this.sharedData = options.shared ?? new InMemorySharedState();
    this.metricRegistry = options.metrics ?? new MetricRegistry();
  }

  /**
   * Loads a plugin (.wasm path or bytes) and configures it. Rejects with the host's typed errors:
   * PluginLoadError (bad module, unknown import) or PluginConfigureError (on_configure refused).
   */
  static async load(wasm: string | Uint8Array, options: EmulatorOptions = {}): Promise<Emulator> {
    const bytes = typeof wasm === 'string' ? new Uint8Array(await readFile(wasm)) : wasm;
    const module = await PluginModule.compile(bytes, typeof wasm === 'string' ? wasm : '<bytes>');
    const emu = new Emulator(options);
    const cfg = options.configuration;
    const configuration = cfg === undefined || typeof cfg === 'string' || cfg instanceof Uint8Array ? cfg : JSON.stringify(cfg);
    const ff = options.foreignFunctions;
    const knownClusters = options.knownClusters ? new Set(options.knownClusters) : undefined;
    emu.plugin = await Plugin.create(module, {
      name: options.name ?? 'test-plugin',
      vmId: options.vmId,
      rootId: options.rootId,
      configuration,
      vmConfiguration: options.vmConfiguration,
      failStrategy: options.failStrategy,
      memoryLimitBytes: options.memoryLimitBytes,
      bodyBufferLimitBytes: options.bodyBufferLimitBytes,
      env: {
        logLevel: options.logLevel ?? LogLevel.TRACE,
        log: (level, plugin, message) => {
          emu.logs.push({ level, levelName: enumName(LogLevel, level), message });
          if (options.printLogs) process.stderr.write(`[${plugin}] ${enumName(LogLevel, level)}: ${message}\n`);
        },
        nowNs: () => emu.clockNs,
        setTicker: (period, fire) => {
          const t = { period, next: emu.clockNs + BigInt(period) * 1_000_000n, fire };
          emu.ticker = t;
          return { cancel: () => { if (emu.ticker === t) emu.ticker = undefined; } };
        },
        httpCall: (request) => emu.recordHttpCall(request),
        grpcCall: (request) => emu.recordGrpcCall(request),
        grpcStream: (request, events) => emu.recordGrpcStream(request, events),
        knownCluster: knownClusters ? (c) => knownClusters.has(c) : undefined,
        foreignFunctions: ff instanceof Map ? ff : ff ? new Map(Object.entries(ff)) : undefined,
        shared: emu.sharedData,
        metrics: emu.metricRegistry,
        env: options.env,
      },
    });
    return emu;
  }

  /** Several emulated plugins in one chain, in the given (request) order. */
  static chain(emulators: Emulator[]): EmulatorChain {
    return new EmulatorChain(emulators);
  }

  private recordHttpCall(request: HttpCallRequest): Promise<HttpCallResponse | undefined> {
    return new Promise((resolve) => {
      let answered = false;
      this.httpCalls.push({
        request,
        get answered() { return answered; },
        async respond(r) {
          if (answered) throw new Error('this http call was already answered');
          answered = true;
          if (!r) resolve(undefined);
          else {
            const headers: HeaderList = [[':status', String(r.status ?? 200)], ...toHeaderList(r.headers ?? [])];
            resolve({ headers, body: toBytes(r.body), trailers: toHeaderList(r.trailers ?? []) });
          }
          await settle();
        },
      });
    });
  }

  private recordGrpcCall(request: GrpcCallRequest): Promise<GrpcCallResponse> {
    return new Promise((resolve) => {
      let answered = false;
      this.grpcCalls.push({
        request,
        get answered() { return answered; },
        async respond(r = {}) {
          if (answered) throw new Error('this gRPC call was already answered');
          answered = true;
          resolve({ status: r.status ?? 0, statusMessage: r.statusMessage ?? '', message: toBytes(r.message) });
          await settle();
        },
      });
    });
  }

  private recordGrpcStream(request: GrpcStreamRequest, events: GrpcStreamEvents): GrpcStreamHandle {
    const sent: Uint8Array[] = [];
    let localClosed = false;
    let cancelled = false;
    const deliver = async (event: () => void): Promise<void> => {
      if (!cancelled) event();
      await settle();
    };
    this.grpcStreams.push({
      request,
      sent,
      get localClosed() { return localClosed; },
      get cancelled() { return cancelled; },
      initialMetadata: (md = []) => deliver(() => events.initialMetadata(toHeaderList(md))),
      message: (m) => deliver(() => events.message(toBytes(m))),
      trailingMetadata: (md) => deliver(() => events.trailingMetadata(toHeaderList(md))),
      close: (status = 0, message = '') => deliver(() => events.close(status, message)),
    });
    return {
      send(message, endStream) {
        sent.push(message);
        if (endStream) localClosed = true;
      },
      close() { localClosed = true; },
      cancel() { cancelled = true; },
    };
  }

  /** Clears {@link logs}. */
  clearLogs(): void { this.logs.length = 0; }

  /** Messages logged at `level` (a number or a name such as "warn"). */
  logsAt(level: number | string): string[] {
    const n = typeof level === 'number' ? level : LogLevel[level.toUpperCase() as keyof typeof LogLevel];
    return this.logs.filter((l) => l.level === n).map((l) => l.message);
  }

  /** Current emulated time, ns since the epoch. */
  get nowNs(): bigint { return this.clockNs; }

  /** Calls `proxy_on_tick` now (whether or not a tick period is set). */
  tick(): void { this.plugin.tick(); }

  /** Moves the clock forward, firing the ticks that fall due (at most 10 000). */
  advanceTime(ms: number): void {
    const target = this.clockNs + BigInt(Math.round(ms * 1e6));
    let fired = 0;
    while (this.ticker && this.ticker.next <= target && fired++ < 10_000) {
      const t = this.ticker;
      this.clockNs = t.next;
      t.next += BigInt(t.period) * 1_000_000n;
      t.fire();
    }
    this.clockNs = target;
  }

  /** Tick period the plugin set, in ms (undefined = none). */
  get tickPeriodMs(): number | undefined { return this.ticker?.period; }

  /** Value of a metric by name (counter/gauge value, histogram count); undefined if not defined. */
  metric(name: string): bigint | undefined { return this.metricRegistry.valueOf(name); }

  /** All metrics, as the gateway exports them. */
  metrics(): MetricSample[] { return this.metricRegistry.samples(); }

  /** Linear memory size of the plugin's current VM, in bytes. */
  memoryBytes(): number { return this.plugin.vm.mem.byteLength; }

  /** Starts an HTTP stream; `info` overrides the stream facts (route, cluster, addresses...). */
  stream(info: Partial<StreamInfo> = {}): EmulatedStream {
    return new EmulatedStream([this.plugin], defaultInfo(this.clockNs, info));
  }

  /** Runs queued host work (HTTP call deliveries, queue notifications) to completion. */
  settle(): Promise<void> { return settle(); }
}

function defaultInfo(now: bigint, info: Partial<StreamInfo>): StreamInfo {
  return {
    startTimeNs: now,
    protocol: 'HTTP/1.1',
    sourceAddress: '127.0.0.1',
    sourcePort: 50000,
    destinationAddress: '127.0.0.1',
    destinationPort: 8080,
    connectionId: 1,
    listenerDirection: 2,
    ...info,
  };
}

/** Several emulated plugins in one chain. */
export class EmulatorChain {
  constructor(readonly emulators: Emulator[]) {}
  /** Starts an HTTP stream through every plugin of the chain. */
  stream(info: Partial<StreamInfo> = {}): EmulatedStream {
    return new EmulatedStream(this.emulators.map((e) => e.plugin), defaultInfo(this.emulators[0]?.nowNs ?? 0n, info));
  }
}

/** Phase options. */
export interface PhaseOptions {
  /** This phase ends the direction (no body / no more chunks); default false. */
  endOfStream?: boolean;
}

/** One emulated HTTP stream. Each phase method returns the chain's {@link PhaseResult}. */
export class EmulatedStream {
  readonly chain: FilterChain;
  /** Request body bytes the chain released so far. */
  requestBodyOut: Uint8Array = new Uint8Array(0);
  /** Response body bytes the chain released so far. */
  responseBodyOut: Uint8Array = new Uint8Array(0);
  /** Local response a plugin sent (or the fail strategy's 503), once there is one. */
  localResponse: LocalResponse | undefined;
  /** Every phase result, in completion order. */
  readonly results: PhaseResult[] = [];
  /** The most recent phase promise (await it after answering an HTTP call). */
  pending: Promise<PhaseResult> | undefined;
  private outstanding = 0;

  constructor(plugins: Plugin[], info: StreamInfo) {
    this.chain = new FilterChain(plugins, info);
  }

  /** True while a phase is still held by a plugin. */
  get paused(): boolean { return this.outstanding > 0; }

  /** Request headers as the plugins left them. */
  get requestHeadersOut(): HeaderList { return this.chain.requestHeadersList; }
  /** Response headers as the plugins left them. */
  get responseHeadersOut(): HeaderList { return this.chain.responseHeadersList; }
  /** Value of a request header after the plugins ran (first one), or undefined. */
  requestHeader(name: string): string | undefined { return this.chain.requestHeadersList.find((h) => h[0] === name)?.[1]; }
  /** Value of a response header after the plugins ran (first one), or undefined. */
  responseHeader(name: string): string | undefined { return this.chain.responseHeadersList.find((h) => h[0] === name)?.[1]; }

  /** Request headers phase (`endOfStream` default false). */
  requestHeaders(headers: HeaderList, options: PhaseOptions = {}): Promise<PhaseResult> {
    return this.track(this.chain.requestHeaders(toHeaderList(headers), options.endOfStream ?? false), 0);
  }
  /** One request body chunk (a string is UTF-8 encoded). */
  requestBody(body: string | Uint8Array, options: PhaseOptions = {}): Promise<PhaseResult> {
    return this.track(this.chain.requestData(toBytes(body), options.endOfStream ?? false), 0);
  }
  /** Request trailers phase. */
  requestTrailers(trailers: HeaderList): Promise<PhaseResult> {
    return this.track(this.chain.requestTrailers(toHeaderList(trailers)), 0);
  }
  /** Response headers phase (include `:status`). */
  responseHeaders(headers: HeaderList, options: PhaseOptions = {}): Promise<PhaseResult> {
    return this.track(this.chain.responseHeaders(toHeaderList(headers), options.endOfStream ?? false), 1);
  }
  /** One response body chunk. */
  responseBody(body: string | Uint8Array, options: PhaseOptions = {}): Promise<PhaseResult> {
    return this.track(this.chain.responseData(toBytes(body), options.endOfStream ?? false), 1);
  }
  /** Response trailers phase. */
  responseTrailers(trailers: HeaderList): Promise<PhaseResult> {
    return this.track(this.chain.responseTrailers(toHeaderList(trailers)), 1);
  }

  /** Ends the stream: on_done, on_log, on_delete in every plugin. */
  finish(): void { this.chain.finish(); }

  private track(p: Promise<PhaseResult>, dir: 0 | 1): Promise<PhaseResult> {
    this.outstanding++;
    const tracked = p.then((r) => {
      this.outstanding--;
      this.results.push(r);
      if (r.kind === 'continue' && r.data && r.data.length) {
        const prev = dir === 0 ? this.requestBodyOut : this.responseBodyOut;
        const next = new Uint8Array(prev.length + r.data.length);
        next.set(prev, 0);
        next.set(r.data, prev.length);
        if (dir === 0) this.requestBodyOut = next;
        else this.responseBodyOut = next;
      } else if (r.kind === 'local') this.localResponse = r.response;
      return r;
    });
    this.pending = tracked;
    return tracked;
  }
}
