/**
 * One HTTP stream through an ordered list of plugins, with Envoy's filter-chain semantics:
 * request callbacks in order, response callbacks in reverse; a non-zero action stops iteration at
 * that plugin until it continues (`proxy_continue_stream`), closes the stream or answers locally.
 * Header status 1 (StopIteration) still lets body data reach that plugin, and a Continue from its
 * body callback releases the headers (Envoy's behaviour); higher statuses hold everything. A body
 * callback that stops makes the chain buffer and call it again with the grown buffer.
 *
 * Phase calls of one direction are served in order; each resolves when its input has come to
 * rest: released downstream, buffered by a plugin waiting for more data, or answered locally.
 */
import { WasmResult } from '../../spec/index.js';
import type { HeaderList, LocalResponse, PhaseResult, StreamInfo } from './types.js';
import type { Plugin } from './plugin.js';
import type { StreamPort } from './stream-port.js';
import { FAILED, type Context, type Vm, type VmUser } from './vm.js';

const { OK, BAD_ARGUMENT } = WasmResult;
const EMPTY = new Uint8Array(0);
const NO_SLOTS: readonly Slot[] = [];
const REQUEST = 0;
const RESPONSE = 1;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * The chain's own copy of a header list. Plugins often add a header; a short list copied by push
 * has room for that (V8 gives a pushed-into array 16 slots), where an exact-size `slice()` would
 * be reallocated at the first add.
 */
function copyHeaders(list: HeaderList): HeaderList {
  const n = list.length;
  if (n > 12) return list.slice();
  const out: HeaderList = [];
  for (let i = 0; i < n; i++) out.push(list[i]!);
  return out;
}

/** One plugin's part in one stream: its stream context in the plugin's VM (one object, not a
 * context plus a port), the StreamPort its host calls reach. A Context by shape, not by
 * inheritance: a plain class constructs faster, and one is made per plugin per stream. */
class Slot implements Context, StreamPort, VmUser {
  id = 0;
  readonly stream: StreamPort;
  readonly user: VmUser;
  vm: Vm | undefined;
  /** This slot once registered as a context of `vm`. */
  ctx: Context | undefined;
  /** Skipped for the rest of the stream (FAIL_OPEN after a failure). */
  open = false;
  /** proxy_continue_stream requested: bit `1 << direction` (a number, not a per-slot array). */
  private cont = 0;

  constructor(readonly chain: FilterChain, readonly plugin: Plugin, readonly index: number) {
    this.stream = this;
    this.user = this;
  }

  get info(): StreamInfo { return this.chain.info; }
  get properties(): Map<string, Uint8Array> { return this.chain.properties; }

  hasCont(dir: number): boolean { return (this.cont & (1 << dir)) !== 0; }
  clearCont(dir: number): void { this.cont &= ~(1 << dir); }

  map(t: number): HeaderList | undefined { return this.chain.mapFor(t); }
  mapWritable(t: number): boolean { return this.chain.mapWritable(t); }
  body(t: number): Uint8Array | undefined { return this.chain.bodyFor(this, t); }
  setBody(t: number, bytes: Uint8Array): boolean { return this.chain.setBodyFor(this, t, bytes); }

  continueStream(streamType: number): number {
    if (streamType !== REQUEST && streamType !== RESPONSE) return BAD_ARGUMENT;
    this.cont |= 1 << streamType;
    this.chain.conts |= 1 << streamType;
    this.chain.kick();
    return OK;
  }

  closeStream(streamType: number): number {
    if (streamType !== REQUEST && streamType !== RESPONSE) return BAD_ARGUMENT;
    this.chain.requestClose(this);
    return OK;
  }

  sendLocalResponse(r: LocalResponse): number { return this.chain.requestLocal(this, r); }

  vmFailed(vm: Vm): void {
    if (vm === this.vm) this.chain.kick();
  }
}

const HEADERS = 0;
const DATA = 1;
const TRAILERS = 2;

/** One phase call waiting in a pipe. Settled through {@link Call.resolve}; no closure per call. */
class Call {
  /** The settlement, once there is one. */
  result: PhaseResult | undefined = undefined;
  /** Resolves the caller's promise when the call could not be settled synchronously. */
  later: ((r: PhaseResult) => void) | undefined = undefined;
  /** Calls queued behind this one in its pipe. */
  next: Call | undefined = undefined;

  /** `headers` holds the headers of a HEADERS call and the trailers of a TRAILERS call. */
  constructor(public kind: number, public headers: HeaderList | undefined, public data: Uint8Array, public eos: boolean) {}

  /** Only the first settlement counts (as with a promise). */
  resolve(r: PhaseResult): void {
    if (this.result !== undefined) return;
    this.result = r;
    if (this.later) this.later(r);
  }
}

/** One direction of the stream: where headers, data and trailers are in the plugin order. */
class Pipe {
  /** Slots of this direction: position i is `slots[i]`, or `slots[n - 1 - i]` when reversed. */
  private slots: readonly Slot[] = NO_SLOTS;
  private reversed = false;
  /** Number of positions. */
  n = 0;
  /** Undefined until headers arrive (read through {@link FilterChain.requestHeadersList}). */
  headers: HeaderList | undefined;
  headersEos = false;
  /** -1 = headers not arrived; n = released. */
  headersAt = -1;
  /** 0 none, 1 StopIteration (body still delivered), 2 stop all. */
  headersStop = 0;
  headersReported = false;
  /** Per-position body state, created when body bytes first enter (most streams carry a body
   * one way at most): bytes held, end of stream held, paused by the body callback, and what the
   * paused callback last saw. */
  bufs: Uint8Array[] | undefined;
  eosAt: boolean[] | undefined;
  bodyStopped: boolean[] | undefined;
  lastLen: number[] | undefined;
  lastEos: boolean[] | undefined;
  trailers: HeaderList | undefined;
  trailersAt = -1;
  trailersStopped = false;
  trailersReported = false;
  out: Uint8Array = EMPTY;
  outEos = false;
  /** Phase calls in arrival order (linked through {@link Call.next}); the head is being served. */
  head: Call | undefined;
  private tail: Call | undefined;

  constructor(readonly dir: 0 | 1) {}

  /** Positions are `slots[0..n)`, in reverse when `reversed` (the response direction). */
  reset(slots: readonly Slot[], n: number, reversed: boolean): void {
    this.slots = slots;
    this.n = n;
    this.reversed = reversed;
    this.bufs = undefined;
    this.eosAt = undefined;
    this.bodyStopped = undefined;
    this.lastLen = undefined;
    this.lastEos = undefined;
    this.headersAt = -1;
    this.headersStop = 0;
    this.trailersAt = -1;
    this.trailersStopped = false;
    this.out = EMPTY;
    this.outEos = false;
  }

  /** The slot at position i (0 <= i < n). */
  at(i: number): Slot { return this.slots[this.reversed ? this.n - 1 - i : i]!; }

  /** Position of `slot` in this direction, or -1. */
  indexOf(slot: Slot): number {
    const j = this.slots.indexOf(slot);
    if (j < 0 || j >= this.n) return -1;
    return this.reversed ? this.n - 1 - j : j;
  }

  /** Creates the per-position body state (once). */
  body(): Uint8Array[] {
    if (this.bufs) return this.bufs;
    const n = this.n;
    this.eosAt = new Array<boolean>(n).fill(false);
    this.bodyStopped = new Array<boolean>(n).fill(false);
    this.lastLen = new Array<number>(n).fill(0);
    this.lastEos = new Array<boolean>(n).fill(false);
    return (this.bufs = new Array<Uint8Array>(n).fill(EMPTY));
  }

  /** Appends a call; true when it is the head (to be served now). */
  push(call: Call): boolean {
    if (this.tail) {
      this.tail.next = call;
      this.tail = call;
      return false;
    }
    this.head = this.tail = call;
    return true;
  }

  /** Removes the head; returns the new head. */
  shift(): Call | undefined {
    const head = this.head;
    if (!head) return undefined;
    this.head = head.next;
    head.next = undefined;
    if (!this.head) this.tail = undefined;
    return this.head;
  }

  /** Moves every queued call to `into` (in order) and empties the queue. */
  takeAll(into: Call[]): void {
    let c = this.head;
    this.head = this.tail = undefined;
    while (c) {
      const next: Call | undefined = c.next;
      c.next = undefined;
      into.push(c);
      c = next;
    }
  }

  /** Settles every queued call with `r` (in order) and empties the queue. (The stream's end: rare.) */
  resolveAll(r: PhaseResult): void {
    const calls: Call[] = [];
    this.takeAll(calls);
    for (const c of calls) c.resolve(r);
  }

  pending(i: number): boolean {
    const bufs = this.bufs;
    return bufs !== undefined && (bufs[i]!.length > 0 || this.eosAt![i]!);
  }

  /** Moves data held at position i to the next position (or out). */
  pass(i: number): void {
    const bufs = this.bufs;
    if (!bufs) return;
    const eosAt = this.eosAt!;
    const data = bufs[i]!;
    const eos = eosAt[i]!;
    bufs[i] = EMPTY;
    eosAt[i] = false;
    this.bodyStopped![i] = false;
    if (i + 1 >= this.n) {
      this.out = concat(this.out, data);
      if (eos) this.outEos = true;
    } else {
      bufs[i + 1] = concat(bufs[i + 1]!, data);
      if (eos) eosAt[i + 1] = true;
    }
  }

  /** True when some held input waits on a plugin action (not just on more data). */
  hardPaused(): boolean {
    const n = this.n;
    if (this.headersAt >= 0 && this.headersAt < n && this.headersStop !== 0) {
      if (this.headersStop === 2 || this.headersEos) return true;
    }
    if (this.bufs) {
      const bodyStopped = this.bodyStopped!;
      const eosAt = this.eosAt!;
      for (let i = 0; i < n; i++) if (bodyStopped[i] && eosAt[i]) return true;
      for (let i = 0; i < n; i++) if (this.pending(i) && i === this.headersAt && this.headersStop === 2) return true;
    }
    if (this.trailersAt >= 0 && this.trailersAt < n) return true;
    return false;
  }
}

/** One HTTP stream through an ordered list of plugins. See the module comment for semantics. */
export class FilterChain {
  /** Stream facts; the proxy updates `responseCode`, `upstreamAddress`... as it learns them. */
  info: StreamInfo;
  /** Values plugins set with `proxy_set_property` on this stream (created on first use). */
  get properties(): Map<string, Uint8Array> { return (this.props ??= new Map()); }
  private props: Map<string, Uint8Array> | undefined;
  /** A property a plugin set on this stream, if any (without creating the map). */
  property(name: string): Uint8Array | undefined { return this.props?.get(name); }
  /** True when some plugin has a `proxy_on_request_body` callback (else the proxy may stream the body past the chain). */
  readonly wantsRequestBody: boolean;
  /** True when some plugin has a `proxy_on_response_body` callback. */
  readonly wantsResponseBody: boolean;
  private readonly slots: Slot[];
  private readonly req = new Pipe(REQUEST);
  private readonly resp = new Pipe(RESPONSE);
  private readonly bodyLimit: number;
  private terminal: PhaseResult | undefined;
  private local: { slot: Slot; response: LocalResponse; dir: number } | undefined;
  private inLocalPath = false;
  private localBase: LocalResponse | undefined;
  private closeBy: Slot | undefined;
  private pumping = false;
  private kicked = false;
  /** Directions (bit `1 << dir`) in which some plugin may hold a continue request. @internal */
  conts = 0;
  private finished = false;

  /** Creates the stream: one stream context per plugin (`proxy_on_context_create(ctx, root)`). */
  constructor(plugins: Plugin[], info: StreamInfo) {
    this.info = info;
    // Plain loops: no callback closures per stream.
    const n = plugins.length;
    const slots = new Array<Slot>(n);
    let wantsRequestBody = false;
    let wantsResponseBody = false;
    let bodyLimit = Infinity;
    for (let i = 0; i < n; i++) {
      const p = plugins[i]!;
      slots[i] = new Slot(this, p, i);
      if (p.handlesRequestBody) wantsRequestBody = true;
      if (p.handlesResponseBody) wantsResponseBody = true;
      if (p.bodyBufferLimitBytes < bodyLimit) bodyLimit = p.bodyBufferLimitBytes;
    }
    this.slots = slots;
    this.wantsRequestBody = wantsRequestBody;
    this.wantsResponseBody = wantsResponseBody;
    this.bodyLimit = bodyLimit;
    this.req.reset(slots, n, false);
    this.resp.reset(slots, n, true);
    for (let i = 0; i < n; i++) {
      const slot = slots[i]!;
      if (this.terminal) break;
      const vm = slot.plugin.acquire();
      if (!vm) {
        this.fail(slot, RESPONSE);
        continue;
      }
      slot.vm = vm;
      slot.ctx = vm.adopt(slot);
      if (vm.call('proxy_on_context_create', vm.exports.contextCreate, slot.ctx, vm.root.id) === FAILED && vm.failure) this.fail(slot, REQUEST);
    }
  }

  // --- public phases ------------------------------------------------------------------------

  /** Request headers (names lower-case, pseudo-headers first). Resolves with the rewritten headers once
   * every plugin let them through, or without `headers` when a plugin waits for the body first. */
  requestHeaders(headers: HeaderList, endOfStream: boolean): Promise<PhaseResult> {
    return this.enqueue(this.req, HEADERS, headers, EMPTY, endOfStream);
  }
  /** A request body chunk; resolves with the bytes to forward now (empty while plugins buffer). */
  requestData(chunk: Uint8Array, endOfStream: boolean): Promise<PhaseResult> {
    return this.enqueue(this.req, DATA, undefined, chunk, endOfStream);
  }
  /** Request trailers; resolves with the (rewritten) trailers in `headers`. */
  requestTrailers(trailers: HeaderList): Promise<PhaseResult> {
    return this.enqueue(this.req, TRAILERS, trailers, EMPTY, false);
  }
  /** Response headers (`:status` first); plugins run in reverse order. */
  responseHeaders(headers: HeaderList, endOfStream: boolean): Promise<PhaseResult> {
    return this.enqueue(this.resp, HEADERS, headers, EMPTY, endOfStream);
  }
  /** A response body chunk; resolves with the bytes to send now. */
  responseData(chunk: Uint8Array, endOfStream: boolean): Promise<PhaseResult> {
    return this.enqueue(this.resp, DATA, undefined, chunk, endOfStream);
  }
  /** Response trailers; resolves with the (rewritten) trailers in `headers`. */
  responseTrailers(trailers: HeaderList): Promise<PhaseResult> {
    return this.enqueue(this.resp, TRAILERS, trailers, EMPTY, false);
  }

  /** {@link requestHeaders}, answered synchronously when no plugin pauses (no promise, no microtask). */
  requestHeadersNow(headers: HeaderList, endOfStream: boolean): PhaseResult | Promise<PhaseResult> {
    return this.enqueueNow(this.req, HEADERS, headers, EMPTY, endOfStream);
  }
  /** {@link requestData}, answered synchronously when no plugin pauses. */
  requestDataNow(chunk: Uint8Array, endOfStream: boolean): PhaseResult | Promise<PhaseResult> {
    return this.enqueueNow(this.req, DATA, undefined, chunk, endOfStream);
  }
  /** {@link responseHeaders}, answered synchronously when no plugin pauses. */
  responseHeadersNow(headers: HeaderList, endOfStream: boolean): PhaseResult | Promise<PhaseResult> {
    return this.enqueueNow(this.resp, HEADERS, headers, EMPTY, endOfStream);
  }
  /** {@link responseData}, answered synchronously when no plugin pauses. */
  responseDataNow(chunk: Uint8Array, endOfStream: boolean): PhaseResult | Promise<PhaseResult> {
    return this.enqueueNow(this.resp, DATA, undefined, chunk, endOfStream);
  }

  /** Request headers as the plugins left them. */
  get requestHeadersList(): HeaderList { return this.req.headers ?? []; }
  /** Response headers as the plugins left them (the local response's while one is being sent). */
  get responseHeadersList(): HeaderList { return this.resp.headers ?? []; }
  /** The terminal outcome (local response or reset), once there is one. */
  get outcome(): PhaseResult | undefined { return this.terminal; }

  /** Stream ended (completed, reset or errored): on_done, on_log, on_delete for each plugin context. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      const vm = slot.vm;
      const ctx = slot.ctx;
      if (!vm) continue;
      if (ctx && !vm.failure) {
        const ex = vm.exports;
        // SDK plugins without a stream-done handler have neither (NO_STREAM_DONE).
        if (ex.done) vm.call('proxy_on_done', ex.done, ctx);
        if (ex.log) vm.call('proxy_on_log', ex.log, ctx);
        vm.call('proxy_on_delete', ex.delete, ctx);
      }
      if (ctx) vm.contexts.delete(ctx.id);
      slot.plugin.release(vm);
      slot.vm = undefined;
    }
    if (this.req.head || this.resp.head) {
      const done: PhaseResult = this.terminal ?? streamFinished();
      this.req.resolveAll(done);
      this.resp.resolveAll(done);
    }
  }

  // --- port services (called by Slot) -------------------------------------------------------

  /** @internal */
  mapFor(t: number): HeaderList | undefined {
    switch (t) {
      case 0: return this.req.headersAt >= 0 ? this.req.headers : undefined;
      case 1: return this.req.trailers;
      case 2: return this.resp.headersAt >= 0 ? this.resp.headers : undefined;
      case 3: return this.resp.trailers;
    }
    return undefined;
  }

  /** @internal */
  mapWritable(t: number): boolean {
    if (this.finished) return false;
    switch (t) {
      case 0: return this.req.headersAt >= 0 && !this.req.headersReported;
      case 1: return this.req.trailers !== undefined && !this.req.trailersReported;
      case 2: return this.resp.headersAt >= 0 && !this.resp.headersReported;
      case 3: return this.resp.trailers !== undefined && !this.resp.trailersReported;
    }
    return false;
  }

  /** @internal */
  bodyFor(slot: Slot, t: number): Uint8Array | undefined {
    const pipe = t === 0 ? this.req : t === 1 ? this.resp : undefined;
    if (!pipe || pipe.headersAt < 0) return undefined;
    const i = pipe.indexOf(slot);
    if (i < 0) return undefined;
    return pipe.bufs ? pipe.bufs[i] : EMPTY;
  }

  /** @internal */
  setBodyFor(slot: Slot, t: number, bytes: Uint8Array): boolean {
    const pipe = t === 0 ? this.req : t === 1 ? this.resp : undefined;
    if (!pipe || pipe.headersAt < 0) return false;
    const i = pipe.indexOf(slot);
    if (i < 0) return false;
    pipe.body()[i] = bytes;
    return true;
  }

  /** @internal */
  requestClose(slot: Slot): void {
    if (!this.closeBy) this.closeBy = slot;
    this.kick();
  }

  /** @internal */
  requestLocal(slot: Slot, response: LocalResponse): number {
    if (this.finished || this.terminal || this.inLocalPath) return BAD_ARGUMENT;
    if (this.resp.headersReported) return BAD_ARGUMENT;
    if (!this.local) this.local = { slot, response, dir: this.resp.indexOf(slot) >= 0 && this.resp.headersAt >= 0 ? RESPONSE : REQUEST };
    this.kick();
    return OK;
  }

  /** Schedules a pump (after the current callback returns). @internal */
  kick(): void {
    if (this.kicked || this.finished) return;
    this.kicked = true;
    queueMicrotask(() => {
      this.kicked = false;
      this.run();
    });
  }

  // --- engine -------------------------------------------------------------------------------

  private enqueue(pipe: Pipe, kind: number, headers: HeaderList | undefined, data: Uint8Array, eos: boolean): Promise<PhaseResult> {
    const r = this.enqueueNow(pipe, kind, headers, data, eos);
    return r instanceof Promise ? r : Promise.resolve(r);
  }

  /** Queues a call; its result when the pump settled it synchronously, else a promise of it. */
  private enqueueNow(pipe: Pipe, kind: number, headers: HeaderList | undefined, data: Uint8Array, eos: boolean): PhaseResult | Promise<PhaseResult> {
    if (this.finished) return this.terminal ?? streamFinished();
    if (this.terminal) return this.terminal;
    // Headers arriving on a quiet stream go through the plugins directly; the usual outcome,
    // every plugin answering Continue, is returned without a queued call or a pump round.
    let accepted = false;
    if (kind === HEADERS && this.quiet(pipe)) {
      pipe.headers = copyHeaders(headers!);
      pipe.headersEos = eos;
      pipe.headersAt = 0;
      this.pumping = true;
      try {
        this.step(pipe);
      } finally {
        this.pumping = false;
      }
      if (this.terminal) return this.terminal;
      if (pipe.headersAt >= pipe.n && !this.local && !this.closeBy && !this.kicked) {
        pipe.headersReported = true;
        return { kind: 'continue', headers: pipe.headers };
      }
      accepted = true; // the pump goes on from where the plugins left the headers
    }
    let call = this.spare;
    if (call) {
      this.spare = undefined;
      call.kind = kind;
      call.headers = headers;
      call.data = data;
      call.eos = eos;
      call.result = undefined;
    } else call = new Call(kind, headers, data, eos);
    if (pipe.push(call) && !accepted) this.accept(pipe, call);
    this.run();
    const result = call.result;
    if (result !== undefined) {
      // Settled synchronously: out of every queue and no promise holds it, so this stream's next
      // phase call can reuse it.
      call.headers = undefined;
      call.data = EMPTY;
      this.spare = call;
      return result;
    }
    const pending = call;
    return new Promise<PhaseResult>((resolve) => { pending.later = resolve; });
  }

  /** Nothing queued or pending anywhere, and `pipe` has seen neither headers nor body yet. */
  private quiet(pipe: Pipe): boolean {
    return !this.pumping && !this.kicked && !this.local && !this.closeBy && !this.inLocalPath && pipe.headersAt < 0 &&
      pipe.bufs === undefined && this.req.head === undefined && this.resp.head === undefined;
  }

  /** A settled call of this stream, free for its next phase call (see enqueueNow). */
  private spare: Call | undefined;

  /** Feeds a call's input into its pipe. */
  private accept(pipe: Pipe, call: Call): void {
    if (call.kind === HEADERS) {
      if (pipe.headersAt >= 0 && !(pipe === this.resp && this.inLocalPath)) return;
      pipe.headers = copyHeaders(call.headers!);
      pipe.headersEos = call.eos;
      pipe.headersAt = 0;
    } else if (call.kind === DATA) {
      if (pipe.n === 0) {
        pipe.out = concat(pipe.out, call.data);
        if (call.eos) pipe.outEos = true;
        return;
      }
      const bufs = pipe.body();
      bufs[0] = concat(bufs[0]!, call.data);
      if (call.eos) pipe.eosAt![0] = true;
    } else {
      pipe.trailers = call.headers!.slice();
      pipe.trailersAt = 0;
    }
  }

  private run(): void {
    if (this.pumping || this.finished) return;
    this.pumping = true;
    try {
      for (;;) {
        let progressed = false;
        if (!this.terminal) {
          if (this.inLocalPath) progressed = this.step(this.resp);
          else progressed = this.step(this.req) || this.step(this.resp);
        }
        if (this.checkIntents()) progressed = true;
        // Calls resolve only once nothing can move any more: data handed on to a plugin without a
        // body callback would otherwise be left behind when the last call resolved early.
        if (!progressed && this.settle()) progressed = true;
        if (!progressed) break;
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Acts on close / local-response requests; true if one was acted on. */
  private checkIntents(): boolean {
    if (this.terminal) return false;
    if (this.closeBy) {
      this.end({ kind: 'reset', reason: `closed by plugin ${this.closeBy.plugin.name}` });
      return true;
    }
    if (this.local && !this.inLocalPath) {
      this.startLocal();
      return true;
    }
    return false;
  }

  /** Runs at most one callback or state change in `pipe`; true if something moved. */
  private step(pipe: Pipe): boolean {
    const n = pipe.n;
    const dir = pipe.dir;
    if (this.closeBy || (this.local && !this.inLocalPath)) return false;
    // Headers.
    let h = pipe.headersAt;
    if (h >= 0 && h < n) {
      let slot = pipe.at(h);
      if (pipe.headersStop === 0) {
        // The common case, every plugin answering Continue, runs as one loop here rather than one
        // pump round per plugin; anything else ends the step after that plugin.
        for (;;) {
          const r = this.callHeaders(pipe, slot);
          if (r === FAILED) return this.afterFailure(slot, pipe);
          if (this.terminal) return true;
          // A pause while a local reply passes back would hang the stream: that reply is complete
          // and nothing will resume it, so it counts as Continue there.
          if (r === 0 || this.inLocalPath) pipe.headersAt = ++h;
          else if (slot.hasCont(dir)) { slot.clearCont(dir); pipe.headersAt = ++h; }
          // StopIteration lets the body reach this plugin (Envoy); without a body callback that
          // body could only release the headers early, so hold everything instead.
          else pipe.headersStop = r === 1 && !pipe.headersEos && this.hasBodyCallback(slot, dir) ? 1 : 2;
          if (pipe.headersStop !== 0 || h >= n || this.closeBy || this.local) return true;
          slot = pipe.at(h);
        }
      }
      if (slot.open || slot.hasCont(dir)) {
        slot.clearCont(dir);
        pipe.headersStop = 0;
        pipe.headersAt++;
        return true;
      }
      if (slot.vm?.failure) return this.afterFailure(slot, pipe);
    }
    // Body.
    const bufs = pipe.bufs;
    const limit = bufs ? Math.min(pipe.headersAt, n - 1) : -1;
    for (let i = 0; i <= limit; i++) {
      if (!pipe.pending(i)) continue;
      if (i === pipe.headersAt && pipe.headersStop !== 1) continue;
      const slot = pipe.at(i);
      const bodyStopped = pipe.bodyStopped!;
      if (bodyStopped[i]) {
        if (slot.open || slot.hasCont(dir)) {
          slot.clearCont(dir);
          this.release(pipe, i);
          return true;
        }
        if (slot.vm?.failure) return this.afterFailure(slot, pipe);
        if (bufs![i]!.length === pipe.lastLen![i] && pipe.eosAt![i] === pipe.lastEos![i]) continue;
        if (pipe.trailersAt === i) continue; // trailers arrived: the plugin hears about them next
      }
      const r = this.callBody(pipe, slot, i);
      if (r === FAILED) return this.afterFailure(slot, pipe);
      if (this.terminal) return true;
      if (r === 0 || slot.hasCont(dir) || this.inLocalPath) {
        slot.clearCont(dir);
        this.release(pipe, i);
      } else {
        bodyStopped[i] = true;
        pipe.lastLen![i] = bufs![i]!.length;
        pipe.lastEos![i] = pipe.eosAt![i]!;
      }
      return true;
    }
    // Trailers.
    const t = pipe.trailersAt;
    if (t >= 0 && t < n && pipe.headersAt > t && !(bufs && bufs[t]!.length > 0 && !pipe.bodyStopped![t])) {
      const slot = pipe.at(t);
      if (!pipe.trailersStopped) {
        const r = this.callTrailers(pipe, slot);
        if (r === FAILED) return this.afterFailure(slot, pipe);
        if (this.terminal) return true;
        if (r === 0 || slot.hasCont(dir)) {
          slot.clearCont(dir);
          pipe.pass(t);
          pipe.trailersAt++;
        } else pipe.trailersStopped = true;
        return true;
      }
      if (slot.open || slot.hasCont(dir)) {
        slot.clearCont(dir);
        pipe.trailersStopped = false;
        pipe.pass(t);
        pipe.trailersAt++;
        return true;
      }
      if (slot.vm?.failure) return this.afterFailure(slot, pipe);
    }
    // A continue that found nothing stopped is spent.
    if (this.conts & (1 << dir)) {
      for (let i = 0; i < n; i++) pipe.at(i).clearCont(dir);
      this.conts &= ~(1 << dir);
    }
    return false;
  }

  /** Body at i continues: if the headers were held there by StopIteration, they go first. */
  private release(pipe: Pipe, i: number): void {
    if (pipe.headersAt === i && pipe.headersStop !== 0) {
      pipe.headersStop = 0;
      pipe.headersAt++;
    }
    pipe.pass(i);
  }

  private hasBodyCallback(slot: Slot, dir: number): boolean {
    const ex = slot.vm?.exports;
    return !!ex && !!(dir === REQUEST ? ex.requestBody : ex.responseBody);
  }

  private callHeaders(pipe: Pipe, slot: Slot): number {
    const vm = slot.vm;
    if (slot.open) return 0;
    if (!vm || !slot.ctx) return FAILED;
    const fn = pipe.dir === REQUEST ? vm.exports.requestHeaders : vm.exports.responseHeaders;
    if (!fn) return vm.failure ? FAILED : 0;
    slot.clearCont(pipe.dir);
    const eos = pipe.headersEos ? 1 : 0;
    return vm.call(pipe.dir === REQUEST ? 'proxy_on_request_headers' : 'proxy_on_response_headers', fn, slot.ctx, pipe.headers!.length, eos);
  }

  private callBody(pipe: Pipe, slot: Slot, i: number): number {
    const vm = slot.vm;
    if (slot.open) return 0;
    if (!vm || !slot.ctx) return FAILED;
    const fn = pipe.dir === REQUEST ? vm.exports.requestBody : vm.exports.responseBody;
    if (!fn) return vm.failure ? FAILED : 0;
    slot.clearCont(pipe.dir);
    return vm.call(pipe.dir === REQUEST ? 'proxy_on_request_body' : 'proxy_on_response_body', fn, slot.ctx, pipe.bufs![i]!.length, pipe.eosAt![i] ? 1 : 0);
  }

  private callTrailers(pipe: Pipe, slot: Slot): number {
    const vm = slot.vm;
    if (slot.open) return 0;
    if (!vm || !slot.ctx) return FAILED;
    const fn = pipe.dir === REQUEST ? vm.exports.requestTrailers : vm.exports.responseTrailers;
    if (!fn) return vm.failure ? FAILED : 0;
    slot.clearCont(pipe.dir);
    return vm.call(pipe.dir === REQUEST ? 'proxy_on_request_trailers' : 'proxy_on_response_trailers', fn, slot.ctx, pipe.trailers!.length);
  }

  /** Applies the plugin's fail strategy; true (the state changed). */
  private afterFailure(slot: Slot, pipe: Pipe): boolean {
    this.fail(slot, pipe.dir);
    return true;
  }

  private fail(slot: Slot, dir: number): void {
    if (slot.open) return;
    if (slot.plugin.failStrategy === 'FAIL_OPEN' || this.inLocalPath) {
      slot.open = true;
      return;
    }
    if (this.resp.headersReported || (dir === RESPONSE && this.resp.headersReported)) {
      this.end({ kind: 'reset', reason: `plugin ${slot.plugin.name} failed` });
      return;
    }
    this.end({ kind: 'local', response: failureResponse(503, `plugin ${slot.plugin.name} failed`, `wasm_fail_stream:${slot.plugin.name}`) });
  }

  /** Sends the pending local response back through the response callbacks of the plugins before its sender. */
  private startLocal(): void {
    const { slot, response, dir } = this.local!;
    // The path: the plugins before the sender, last first.
    const pathLength = dir === REQUEST ? slot.index : 0;
    this.inLocalPath = true;
    this.localBase = response;
    const resp = this.resp;
    // Waiting response calls settle with the stream's outcome (see end()).
    if (resp.head) resp.takeAll((this.pendingLocalWaiters ??= []));
    resp.reset(this.slots, pathLength, true);
    resp.headersReported = false;
    resp.trailers = undefined;
    resp.headers = [[':status', String(response.status)], ...response.headers];
    resp.headersEos = response.body.length === 0;
    resp.headersAt = 0;
    if (pathLength === 0) {
      // Nothing to pass through: out = the response itself.
      resp.out = response.body;
      resp.outEos = true;
    } else if (response.body.length > 0) {
      resp.body()[0] = response.body;
      resp.eosAt![0] = true;
    }
  }

  private pendingLocalWaiters: Call[] | undefined;

  private end(result: PhaseResult): void {
    if (this.terminal) return;
    this.terminal = result;
    this.req.resolveAll(result);
    this.resp.resolveAll(result);
    const waiters = this.pendingLocalWaiters;
    if (waiters) {
      this.pendingLocalWaiters = undefined;
      for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(result);
    }
  }

  /** Resolves calls whose input has come to rest; true if a queued call was started. */
  private settle(): boolean {
    if (this.terminal) {
      this.end(this.terminal);
      return false;
    }
    if (this.inLocalPath) {
      const resp = this.resp;
      const n = resp.n;
      const bodyDone = resp.headersEos || resp.outEos;
      if (resp.headersAt >= n && bodyDone) {
        let status = this.localBase!.status;
        const headers: HeaderList = [];
        for (const [k, v] of resp.headers!) {
          if (k === ':status') status = Number(v) || status;
          else headers.push([k, v]);
        }
        this.end({ kind: 'local', response: { ...this.localBase!, status, headers, body: resp.out } });
      }
      return false;
    }
    let started = false;
    for (let p = 0; p < 2; p++) {
      const pipe = p === 0 ? this.req : this.resp;
      const call = pipe.head;
      if (!call) continue;
      const limit = this.overLimit(pipe);
      if (limit) {
        this.end(limit);
        return false;
      }
      if (!this.callDone(pipe, call)) continue;
      const next = pipe.shift();
      let headers: HeaderList | undefined;
      let data: Uint8Array | undefined;
      if (pipe.headersAt >= pipe.n && !pipe.headersReported) {
        pipe.headersReported = true;
        headers = pipe.headers;
      }
      if (call.kind !== HEADERS || pipe.out.length > 0) {
        data = pipe.out;
        pipe.out = EMPTY;
      }
      if (call.kind === TRAILERS) {
        // A trailers phase answers with the (possibly rewritten) trailers in `headers`.
        pipe.trailersReported = true;
        headers = pipe.trailers;
      }
      call.resolve(continueResult(headers, data));
      if (next) {
        this.accept(pipe, next);
        started = true;
      }
    }
    return started;
  }

  private callDone(pipe: Pipe, call: Call): boolean {
    const n = pipe.n;
    if (call.kind === HEADERS) {
      return pipe.headersAt >= n || (pipe.headersStop === 1 && !pipe.headersEos);
    }
    if (call.kind === TRAILERS) return pipe.trailersAt >= n;
    return !pipe.hardPaused();
  }

  private overLimit(pipe: Pipe): PhaseResult | undefined {
    const max = this.bodyLimit;
    const bufs = pipe.bufs;
    if (!bufs) return undefined;
    for (let i = 0; i < bufs.length; i++) {
      if (bufs[i]!.length > max) {
        if (pipe.dir === REQUEST) return { kind: 'local', response: failureResponse(413, 'Payload Too Large', 'request_payload_too_large') };
        if (this.resp.headersReported) return { kind: 'reset', reason: 'response body over the buffer limit' };
        return { kind: 'local', response: failureResponse(500, 'Internal Server Error', 'response_payload_too_large') };
      }
    }
    return undefined;
  }
}

/** A continue result with only the members that are set (callers test `headers` for presence). */
function continueResult(headers: HeaderList | undefined, data: Uint8Array | undefined): PhaseResult {
  if (headers !== undefined) return data !== undefined ? { kind: 'continue', headers, data } : { kind: 'continue', headers };
  return data !== undefined ? { kind: 'continue', data } : { kind: 'continue' };
}

function streamFinished(): PhaseResult {
  return { kind: 'reset', reason: 'stream finished' };
}

function failureResponse(status: number, text: string, details: string): LocalResponse {
  return {
    status,
    headers: [['content-type', 'text/plain']],
    body: new TextEncoder().encode(`${text}\n`),
    details,
    grpcStatus: -1,
  };
}
