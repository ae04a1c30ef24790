// What a handler gets for one HTTP stream: headers, bodies, properties, local responses,
// pause/resume and per-request values. One HttpContext per stream context id; the dispatcher
// creates it on proxy_on_context_create and drops it on proxy_on_delete.
import * as host from "./hostcalls";
import { MapType, BufferType, StreamType, Header, WasmResult } from "./types";

/** Base of the boxes that hold per-request values of any type. */
class Box {}
class ValueBox<T> extends Box {
  constructor(public value: T) { super(); }
}

/** Phases a stream goes through; `ctx.phase` tells a shared helper where it is called from. */
export enum Phase { NONE, REQUEST_HEADERS, REQUEST_BODY, RESPONSE_HEADERS, RESPONSE_BODY, DONE }

const NO_PAUSE: i32 = -1;

/**
 * One HTTP stream as a plugin handler sees it. It belongs to its stream until the stream ends
 * (proxy_on_delete); the SDK then reuses the object for a later stream, so code that must find a
 * stream after it ended keeps `id`, not the context.
 */
export class HttpContext {
  /** The stream's context id. */
  id: u32;
  /** The id of the plugin (root) context the stream belongs to. */
  rootId: u32;
  /** Where the stream is (request headers, request body, ...). */
  phase: Phase;
  /** @internal the rule-matched config (an instance of the plugin's config class). */
  config: Object | null;
  /** @internal true when no rule matched and there is no global config: handlers are skipped. */
  bypass: bool;
  /** @internal body reading switches and limits (0 = the host's limit). */
  readRequestBody: bool;
  readResponseBody: bool;
  requestBodyLimit: u32;
  responseBodyLimit: u32;
  /** @internal size of the body buffer in the current body callback. */
  bodySize: u32;
  /** @internal stream type paused by the last handler (-1 when running). */
  paused: i32;
  /** True once this plugin sent a local response for the stream. */
  localResponseSent: bool;
  private values: Map<string, Box> | null;
  private route: string | null;
  private cluster: string | null;
  private authorityValue: string | null;

  constructor(id: u32, rootId: u32) { this.start(id, rootId); }

  /** @internal Makes this the fresh context of stream `id` (a new one, or a finished stream's reused). */
  start(id: u32, rootId: u32): HttpContext {
    this.id = id;
    this.rootId = rootId;
    this.phase = Phase.NONE;
    this.config = null;
    this.bypass = false;
    this.readRequestBody = true;
    this.readResponseBody = true;
    this.requestBodyLimit = 0;
    this.responseBodyLimit = 0;
    this.bodySize = 0;
    this.paused = NO_PAUSE;
    this.localResponseSent = false;
    this.values = null;
    this.route = null;
    this.cluster = null;
    this.authorityValue = null;
    return this;
  }

  // ---- request headers ---------------------------------------------------------------------
  /** Request header `name` (lower-case), or null. */
  getRequestHeader(name: string): string | null { return host.getHeaderMapValue(MapType.HTTP_REQUEST_HEADERS, name); }
  /** All request headers in order, pseudo-headers first. */
  getRequestHeaders(): Array<Header> { return host.getHeaderMapPairs(MapType.HTTP_REQUEST_HEADERS); }
  /** Replaces all request headers. */
  setRequestHeaders(headers: Array<Header>): void { host.setHeaderMapPairs(MapType.HTTP_REQUEST_HEADERS, headers); }
  /** Appends a request header. */
  addRequestHeader(name: string, value: string): void { host.addHeaderMapValue(MapType.HTTP_REQUEST_HEADERS, name, value); }
  /** Sets a request header, replacing existing values. */
  replaceRequestHeader(name: string, value: string): void { host.replaceHeaderMapValue(MapType.HTTP_REQUEST_HEADERS, name, value); }
  /** Removes a request header. */
  removeRequestHeader(name: string): void { host.removeHeaderMapValue(MapType.HTTP_REQUEST_HEADERS, name); }

  /** `:method`. */
  method(): string { return orEmpty(this.getRequestHeader(":method")); }
  /** `:path` (with the query string). */
  path(): string { return orEmpty(this.getRequestHeader(":path")); }
  /** `:authority` (the Host header, with its port if any). */
  authority(): string {
    let a = this.authorityValue;
    if (a === null) this.authorityValue = a = orEmpty(this.getRequestHeader(":authority"));
    return a;
  }
  /** `:authority` without its port (IPv6-aware). */
  host(): string {
    const a = this.authority();
    const colon = a.lastIndexOf(":", i32.MAX_VALUE);
    if (colon < 0 || a.lastIndexOf("]", i32.MAX_VALUE) > colon) return a;
    return a.substring(0, colon);
  }
  /** `:scheme`. */
  scheme(): string { return orEmpty(this.getRequestHeader(":scheme")); }

  // ---- response headers --------------------------------------------------------------------
  /** Response header `name`, or null. */
  getResponseHeader(name: string): string | null { return host.getHeaderMapValue(MapType.HTTP_RESPONSE_HEADERS, name); }
  /** All response headers, `:status` first. */
  getResponseHeaders(): Array<Header> { return host.getHeaderMapPairs(MapType.HTTP_RESPONSE_HEADERS); }
  /** Replaces all response headers. */
  setResponseHeaders(headers: Array<Header>): void { host.setHeaderMapPairs(MapType.HTTP_RESPONSE_HEADERS, headers); }
  /** Appends a response header. */
  addResponseHeader(name: string, value: string): void { host.addHeaderMapValue(MapType.HTTP_RESPONSE_HEADERS, name, value); }
  /** Sets a response header, replacing existing values. */
  replaceResponseHeader(name: string, value: string): void { host.replaceHeaderMapValue(MapType.HTTP_RESPONSE_HEADERS, name, value); }
  /** Removes a response header. */
  removeResponseHeader(name: string): void { host.removeHeaderMapValue(MapType.HTTP_RESPONSE_HEADERS, name); }
  /** Response `:status` as a number (0 when unknown). */
  status(): u32 {
    const s = this.getResponseHeader(":status");
    return s === null ? 0 : <u32>parseInt(s, 10);
  }

  // ---- bodies --------------------------------------------------------------------------------
  /** The request body seen so far (in request body handlers); empty elsewhere. */
  getRequestBody(): ArrayBuffer {
    const b = host.getBufferBytes(BufferType.HTTP_REQUEST_BODY, 0, this.phase == Phase.REQUEST_BODY ? this.bodySize : u32.MAX_VALUE);
    return b === null ? new ArrayBuffer(0) : b;
  }
  /** Replaces the request body (in request body handlers). */
  replaceRequestBody(body: ArrayBuffer): void {
    host.setBufferBytes(BufferType.HTTP_REQUEST_BODY, 0, this.phase == Phase.REQUEST_BODY ? this.bodySize : u32.MAX_VALUE, body);
  }
  /** The response body seen so far (in response body handlers). */
  getResponseBody(): ArrayBuffer {
    const b = host.getBufferBytes(BufferType.HTTP_RESPONSE_BODY, 0, this.phase == Phase.RESPONSE_BODY ? this.bodySize : u32.MAX_VALUE);
    return b === null ? new ArrayBuffer(0) : b;
  }
  /** Replaces the response body (in response body handlers). */
  replaceResponseBody(body: ArrayBuffer): void {
    host.setBufferBytes(BufferType.HTTP_RESPONSE_BODY, 0, this.phase == Phase.RESPONSE_BODY ? this.bodySize : u32.MAX_VALUE, body);
  }
  /** Skip this plugin's request body handler for this stream (the body streams through). */
  dontReadRequestBody(): void { this.readRequestBody = false; }
  /** Skip this plugin's response body handler for this stream. */
  dontReadResponseBody(): void { this.readResponseBody = false; }
  /** Most request body bytes to buffer for the buffered handler; beyond it the SDK answers 413. 0 = the host's limit. */
  setRequestBodyBufferLimit(bytes: u32): void { this.requestBodyLimit = bytes; }
  /** Most response body bytes to buffer; beyond it the SDK answers 500 (the response cannot be delivered whole). */
  setResponseBodyBufferLimit(bytes: u32): void { this.responseBodyLimit = bytes; }

  // ---- stream control ------------------------------------------------------------------------
  /**
   * Answers the request with this response instead of proxying it. Returns false when the host
   * refused (e.g. response headers already sent). Handlers then return `Action.PAUSE`.
   */
  sendLocalResponse(status: u32, body: string = "", headers: Array<Header> | null = null, details: string = ""): bool {
    return this.sendLocalResponseBytes(status, String.UTF8.encode(body, false), headers, details);
  }
  /** {@link sendLocalResponse} with a binary body. */
  sendLocalResponseBytes(status: u32, body: ArrayBuffer, headers: Array<Header> | null = null, details: string = ""): bool {
    const h = headers === null ? new Array<Header>() : headers;
    const ok = host.sendLocalResponse(status, details, body, h) == WasmResult.OK;
    if (ok) this.localResponseSent = true;
    return ok;
  }
  /** Resumes the stream a handler paused (request or response, whichever is paused). */
  resume(): void {
    const t = this.paused;
    this.paused = NO_PAUSE;
    host.continueStream(t == NO_PAUSE ? (this.phase >= Phase.RESPONSE_HEADERS ? StreamType.HTTP_RESPONSE : StreamType.HTTP_REQUEST) : <StreamType>t);
  }
  /** Resets the stream (the client sees a broken connection/stream). */
  reset(): void {
    host.closeStream(this.phase >= Phase.RESPONSE_HEADERS ? StreamType.HTTP_RESPONSE : StreamType.HTTP_REQUEST);
  }

  // ---- properties ----------------------------------------------------------------------------
  /** Property as text (`"request.path"`, `"route_name"`, ...; dots separate segments), or null. */
  getProperty(path: string): string | null {
    const b = host.getProperty(host.propertyPath(path));
    return b === null ? null : String.UTF8.decode(b);
  }
  /** Property as raw bytes (integers are 8-byte little-endian), or null. */
  getPropertyBytes(path: string): ArrayBuffer | null { return host.getProperty(host.propertyPath(path)); }
  /** Sets a property. */
  setProperty(path: string, value: string): void { host.setProperty(host.propertyPath(path), String.UTF8.encode(value, false)); }
  /** Higress route name (`<namespace>/<name>`), "" when none. */
  routeName(): string {
    let r = this.route;
    if (r === null) this.route = r = orEmpty(this.getProperty("route_name"));
    return r;
  }
  /** Upstream cluster (`outbound|<port>|<subset>|<fqdn>`), "" when none. */
  clusterName(): string {
    let c = this.cluster;
    if (c === null) this.cluster = c = orEmpty(this.getProperty("cluster_name"));
    return c;
  }
  /** Client address as the host reports it (`ip:port`, `[v6]:port` or bare ip), "" when unknown. */
  sourceAddress(): string { return orEmpty(this.getProperty("source.address")); }

  // ---- per-request values --------------------------------------------------------------------
  /** Stores a value for the rest of this stream (any type). */
  setContext<T>(key: string, value: T): void {
    let m = this.values;
    if (m === null) this.values = m = new Map<string, Box>();
    m.set(key, new ValueBox<T>(value));
  }
  /** A value stored with {@link setContext}; `dflt` when missing or stored with another type. */
  getContext<T>(key: string, dflt: T): T {
    const m = this.values;
    if (m === null || !m.has(key)) return dflt;
    const b = m.get(key);
    if (b instanceof ValueBox<T>) return changetype<ValueBox<T>>(b).value;
    return dflt;
  }
  /** True when `key` was stored with {@link setContext}. */
  hasContext(key: string): bool {
    const m = this.values;
    return m !== null && m.has(key);
  }
}

@inline function orEmpty(s: string | null): string { return s === null ? "" : s; }
