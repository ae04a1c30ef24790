// What a plugin author declares: a config class, a parser, and the handlers to run.
//
//   definePlugin<MyConfig>("my-plugin", parseConfig)
//     .onHttpRequestHeaders(onRequestHeaders);
//
// Plugin<C> holds the handlers and the parsed, rule-scoped configuration; it turns each raw
// proxy-wasm callback (already routed to an HttpContext by the dispatcher) into a handler call
// with the config that applies to that request.
import { decimal } from "./decimal";
import * as host from "./hostcalls";
import { Action, BufferType, FilterDataStatus, FilterHeadersStatus, StreamCallback, StreamType } from "./types";
import { HttpContext, Phase } from "./http-context";
import { JsonObject, JsonValue, parseJson, jsonParseError, newJsonObject } from "./json";
import { configError, takeConfigError } from "./errors";
import { RuleScope, parseRuleScope, firstMatch, RULES_KEY, PLUGIN_ID_KEY } from "./rule-matcher";
import { setLogName, log } from "./log";

/** Fills `config` (a fresh instance of the config class) from the JSON object `json`. */
export type ConfigParser<C> = (json: JsonObject, config: C) => void;
/** Fills a rule's `config` from its JSON, starting from the global config (override parsing). */
export type RuleConfigParser<C> = (json: JsonObject, config: C, global: C) => void;
/** Request or response headers handler. */
export type HeadersHandler<C> = (ctx: HttpContext, config: C) => Action;
/** Buffered body handler: called once with the whole body. */
export type BodyHandler<C> = (ctx: HttpContext, config: C, body: ArrayBuffer) => Action;
/** Streaming body handler: called per chunk; returns the bytes to forward instead of `chunk`. */
export type StreamingBodyHandler<C> = (ctx: HttpContext, config: C, chunk: ArrayBuffer, endOfStream: bool) => ArrayBuffer;
/** Called once when the stream is over (completed or reset), for logging and metrics. */
export type StreamDoneHandler<C> = (ctx: HttpContext, config: C) => void;
/** Called every tick period on the root context. */
export type TickHandler = () => void;

/** The type-erased face of a plugin, which the dispatcher drives. */
export abstract class PluginBase {
  constructor(public readonly name: string) {}
  /** @internal */ tickPeriodMs: u32 = 0;
  // Body handlers with the config type erased (it is a reference either way), so the body
  // phase code is shared and linked only when a body handler is registered.
  /** @internal */ reqBody: BodyHandler<Object> | null = null;
  /** @internal */ reqStream: StreamingBodyHandler<Object> | null = null;
  /** @internal */ respBody: BodyHandler<Object> | null = null;
  /** @internal */ respStream: StreamingBodyHandler<Object> | null = null;
  /** @internal */ tickHandler: TickHandler | null = null;
  abstract configure(text: string, apply: bool): bool;
  abstract requestHeaders(ctx: HttpContext, endOfStream: bool): i32;
  abstract requestBody(ctx: HttpContext, size: u32, endOfStream: bool): i32;
  abstract responseHeaders(ctx: HttpContext, endOfStream: bool): i32;
  abstract responseBody(ctx: HttpContext, size: u32, endOfStream: bool): i32;
  abstract streamDone(ctx: HttpContext): void;
  abstract callbacks(): u32;
}

/** A plugin: its configuration type `C`, its parser and its handlers. Build it with {@link definePlugin}. */
export class Plugin<C> extends PluginBase {
  private ruleParser: RuleConfigParser<C> | null = null;
  private reqHeaders: HeadersHandler<C> | null = null;
  private respHeaders: HeadersHandler<C> | null = null;
  private done: StreamDoneHandler<C> | null = null;
  private reqBodyPhase: BodyPhase | null = null;
  private respBodyPhase: BodyPhase | null = null;

  /** The global config, or null when the configuration has only rules. */
  global: C | null = null;
  /** Rule scopes and their configs, in configuration order. */
  scopes: Array<RuleScope> = new Array<RuleScope>();
  ruleConfigs: Array<C> = new Array<C>();

  constructor(name: string, private parser: ConfigParser<C>) { super(name); }

  /** Parse rule configs starting from the global config (Higress `ParseOverrideConfigBy`). */
  withRuleParser(parser: RuleConfigParser<C>): Plugin<C> { this.ruleParser = parser; return this; }
  /** Runs on request headers. */
  onHttpRequestHeaders(h: HeadersHandler<C>): Plugin<C> { this.reqHeaders = h; return this; }
  /** Runs once on the whole request body (the SDK buffers it; skipped when there is no body). */
  onHttpRequestBody(h: BodyHandler<C>): Plugin<C> { this.reqBody = changetype<BodyHandler<Object>>(h); this.reqBodyPhase = bodyPhase; return this; }
  /** Runs on each request body chunk as it arrives (takes precedence over the buffered handler). */
  onHttpStreamingRequestBody(h: StreamingBodyHandler<C>): Plugin<C> { this.reqStream = changetype<StreamingBodyHandler<Object>>(h); this.reqBodyPhase = bodyPhase; return this; }
  /** Runs on response headers. */
  onHttpResponseHeaders(h: HeadersHandler<C>): Plugin<C> { this.respHeaders = h; return this; }
  /** Runs once on the whole response body (buffered; `content-length` is dropped since the body may change). */
  onHttpResponseBody(h: BodyHandler<C>): Plugin<C> { this.respBody = changetype<BodyHandler<Object>>(h); this.respBodyPhase = bodyPhase; return this; }
  /** Runs on each response body chunk as it arrives. */
  onHttpStreamingResponseBody(h: StreamingBodyHandler<C>): Plugin<C> { this.respStream = changetype<StreamingBodyHandler<Object>>(h); this.respBodyPhase = bodyPhase; return this; }
  /** Runs when the stream is over. */
  onHttpStreamDone(h: StreamDoneHandler<C>): Plugin<C> { this.done = h; return this; }
  /** Runs `h` every `periodMs` ms (set once configuration succeeded). */
  onTick(periodMs: u32, h: TickHandler): Plugin<C> { this.tickPeriodMs = periodMs; this.tickHandler = h; return this; }

  /**
   * Parses the plugin configuration (JSON text, "" = `{}`). With `apply`, installs it; without,
   * only validates. On error logs one line naming the rule and the reason, and returns false.
   */
  configure(text: string, apply: bool): bool {
    takeConfigError();
    let json: JsonObject;
    if (isBlank(text)) json = newJsonObject();
    else {
      const v: JsonValue | null = parseJson(text);
      if (v === null) return this.fail("configuration", jsonParseError());
      const o = v.asObject();
      if (o === null) return this.fail("configuration", "must be a JSON object");
      json = o;
    }
    let ownKeys = 0;
    const keys = json.keys();
    for (let i = 0; i < keys.length; i++) {
      const k = unchecked(keys[i]);
      if (k != RULES_KEY && k != PLUGIN_ID_KEY) ownKeys++;
    }
    const rules = json.getArray(RULES_KEY);
    let err = takeConfigError();
    if (err !== null) return this.fail("configuration", err);
    const hasRules = rules !== null && rules.length > 0;

    let global: C | null = null;
    if (ownKeys > 0 || !hasRules) {
      const g = instantiate<C>();
      this.parser(json, g);
      err = takeConfigError();
      if (err !== null) return this.fail("configuration", err);
      global = g;
    }
    const scopes = new Array<RuleScope>();
    const configs = new Array<C>();
    if (rules !== null) {
      for (let i = 0; i < rules.length; i++) {
        const where = "_rules_[" + decimal(i) + "]";
        const r = rules.objectAt(i);
        if (r === null) return this.fail(where, takeConfigError()!);
        r.path = ""; // errors inside the rule read relative to it: "_rules_[1] (...): name must be..."
        const scope = parseRuleScope(r);
        err = takeConfigError();
        if (scope === null || err !== null) return this.fail(where, err!);
        const c = instantiate<C>();
        const rp = this.ruleParser;
        if (rp !== null) rp(r, c, global !== null ? global : instantiate<C>());
        else this.parser(r, c);
        err = takeConfigError();
        if (err !== null) return this.fail(where + " (" + scope.describe + ")", err);
        scopes.push(scope);
        configs.push(c);
      }
    }
    if (apply) {
      this.global = global;
      this.scopes = scopes;
      this.ruleConfigs = configs;
      if (this.tickHandler !== null) host.setTickPeriodMilliseconds(this.tickPeriodMs);
    }
    return true;
  }

  private fail(where: string, why: string): bool {
    log.error("invalid " + where + ": " + why);
    return false;
  }

  /** The config for this request (first matching rule, else global), or null = bypass. */
  private select(ctx: HttpContext): C | null {
    if (this.scopes.length) {
      const i = firstMatch(this.scopes, ctx);
      if (i >= 0) return unchecked(this.ruleConfigs[i]);
    }
    return this.global;
  }

  requestHeaders(ctx: HttpContext, endOfStream: bool): i32 {
    ctx.phase = Phase.REQUEST_HEADERS;
    const c = this.select(ctx);
    if (c === null) { ctx.bypass = true; return FilterHeadersStatus.CONTINUE; }
    ctx.config = c;
    const h = this.reqHeaders;
    if (h === null) return FilterHeadersStatus.CONTINUE;
    return headersStatus(ctx, h(ctx, c), StreamType.HTTP_REQUEST);
  }

  requestBody(ctx: HttpContext, size: u32, endOfStream: bool): i32 {
    const f = this.reqBodyPhase;
    if (f === null || ctx.bypass || ctx.localResponseSent || ctx.config === null) return FilterDataStatus.CONTINUE;
    return f(this, ctx, size, endOfStream, false);
  }

  responseHeaders(ctx: HttpContext, endOfStream: bool): i32 {
    if (ctx.bypass || ctx.config === null) return FilterHeadersStatus.CONTINUE;
    ctx.phase = Phase.RESPONSE_HEADERS;
    const c = changetype<C>(ctx.config);
    const h = this.respHeaders;
    const status = h === null ? FilterHeadersStatus.CONTINUE : headersStatus(ctx, h(ctx, c), StreamType.HTTP_RESPONSE);
    // A buffered response handler may change the body length.
    if (!endOfStream && this.respBody !== null && this.respStream === null && ctx.readResponseBody && !ctx.localResponseSent)
      ctx.removeResponseHeader("content-length");
    return status;
  }

  responseBody(ctx: HttpContext, size: u32, endOfStream: bool): i32 {
    const f = this.respBodyPhase;
    if (f === null || ctx.bypass || ctx.config === null) return FilterDataStatus.CONTINUE;
    return f(this, ctx, size, endOfStream, true);
  }

  /**
   * The stream callbacks with something to do (`StreamCallback` bits): request headers always (they
   * pick the rule's config), the rest only with a handler. The others only answer Continue (or, at
   * the stream's end, nothing).
   */
  callbacks(): u32 {
    let bits: u32 = StreamCallback.REQUEST_HEADERS;
    if (this.reqBodyPhase !== null) bits |= StreamCallback.REQUEST_BODY;
    if (this.respHeaders !== null || this.respBodyPhase !== null) bits |= StreamCallback.RESPONSE_HEADERS;
    if (this.respBodyPhase !== null) bits |= StreamCallback.RESPONSE_BODY;
    if (this.done === null) bits |= StreamCallback.NO_STREAM_DONE;
    return bits;
  }

  streamDone(ctx: HttpContext): void {
    ctx.phase = Phase.DONE;
    const d = this.done;
    if (d === null || ctx.bypass || ctx.config === null) return;
    d(ctx, changetype<C>(ctx.config));
  }
}

/**
 * One body callback (request or response) for a plugin with a body handler. Reached through a
 * function reference set when the handler is registered, so plugins without body handlers do
 * not carry this code.
 */
function bodyPhase(p: PluginBase, ctx: HttpContext, size: u32, endOfStream: bool, response: bool): i32 {
  const type = response ? BufferType.HTTP_RESPONSE_BODY : BufferType.HTTP_REQUEST_BODY;
  ctx.phase = response ? Phase.RESPONSE_BODY : Phase.REQUEST_BODY;
  ctx.bodySize = size;
  const c = ctx.config!;
  const s = response ? p.respStream : p.reqStream;
  if (s !== null) {
    const chunk = host.getBufferBytes(type, 0, size);
    const input = chunk === null ? new ArrayBuffer(0) : chunk;
    const out = s(ctx, c, input, endOfStream);
    if (out !== input) host.setBufferBytes(type, 0, size, out);
    return FilterDataStatus.CONTINUE;
  }
  const b = response ? p.respBody : p.reqBody;
  if (b === null || !(response ? ctx.readResponseBody : ctx.readRequestBody)) return FilterDataStatus.CONTINUE;
  if (!endOfStream) {
    const limit = response ? ctx.responseBodyLimit : ctx.requestBodyLimit;
    if (limit && size > limit) {
      // A request too large for the plugin is the client's problem (413); a response too large
      // to rewrite cannot be delivered whole (500), as Envoy answers when its buffer overflows.
      ctx.sendLocalResponse(response ? 500 : 413, response ? "response body too large" : "request body too large");
      return FilterDataStatus.STOP_ITERATION_NO_BUFFER;
    }
    return FilterDataStatus.STOP_ITERATION_AND_BUFFER;
  }
  const body = host.getBufferBytes(type, 0, size);
  return dataStatus(ctx, b(ctx, c, body === null ? new ArrayBuffer(0) : body), response ? StreamType.HTTP_RESPONSE : StreamType.HTTP_REQUEST);
}

/** A body callback, type-erased (see {@link bodyPhase}). */
type BodyPhase = (p: PluginBase, ctx: HttpContext, size: u32, endOfStream: bool, response: bool) => i32;

function isBlank(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) return false;
  }
  return true;
}

function headersStatus(ctx: HttpContext, a: Action, t: StreamType): i32 {
  if (a == Action.CONTINUE) return FilterHeadersStatus.CONTINUE;
  ctx.paused = t;
  // Hold the headers AND any body behind them until the plugin resumes (Higress does the same
  // for calls that must finish before the request may go on).
  return FilterHeadersStatus.STOP_ALL_ITERATION_AND_WATERMARK;
}

function dataStatus(ctx: HttpContext, a: Action, t: StreamType): i32 {
  if (a == Action.CONTINUE) return FilterDataStatus.CONTINUE;
  ctx.paused = t;
  return FilterDataStatus.STOP_ITERATION_AND_BUFFER;
}

/** The plugin this module defines (one per wasm module). */
export let registered: PluginBase | null = null;

/**
 * Declares the plugin: its name (log prefix) and config parser. `C` is the config class; it
 * needs a constructor without arguments (fields get their defaults there). Chain the handlers
 * onto the result. An empty configuration means "enabled everywhere, parsed from `{}`".
 */
export function definePlugin<C>(name: string, parser: ConfigParser<C>): Plugin<C> {
  const p = new Plugin<C>(name, parser);
  registered = p;
  setLogName(name);
  return p;
}

/** The config this stream runs with (inside handlers and HTTP-call callbacks). */
export function configOf<C>(ctx: HttpContext): C {
  return changetype<C>(ctx.config);
}

// Keeps `configError` in this module's public surface for parsers that validate by hand.
export { configError };
