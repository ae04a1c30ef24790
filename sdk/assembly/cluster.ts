// Outbound HTTP calls the Higress way: a ClusterClient names an Envoy cluster like the Higress
// control plane does (`outbound|<port>|<subset>|<fqdn>`; McpBridge services as `<name>.static`
// or `<name>.dns`), sends `proxy_http_call`, and runs the callback in the calling stream's
// context when the answer comes (to the root context) — so the callback can resume or deny it.
import { decimal } from "./decimal";
import * as host from "./hostcalls";
import { BufferType, Header, MapType } from "./types";
import { HttpContext } from "./http-context";
import { log } from "./log";

/** The answer to an outbound call. `failed` (status 0) when the call did not complete (timeout, reset, no cluster). */
export class HttpCallResponse {
  constructor(public status: u32, public headers: Array<Header>, public body: ArrayBuffer, public failed: bool) {}
  /** Header `name` (lower-case), or null. */
  header(name: string): string | null {
    for (let i = 0; i < this.headers.length; i++) if (unchecked(this.headers[i]).name == name) return unchecked(this.headers[i]).value;
    return null;
  }
  /** The body as UTF-8 text. */
  bodyText(): string { return String.UTF8.decode(this.body); }
}

/** Runs when an outbound call answers, with the stream that made it. */
export type HttpCallback = (ctx: HttpContext, response: HttpCallResponse) => void;

/** An upstream a plugin may call. */
export abstract class Cluster {
  /** The Envoy cluster name. */
  abstract clusterName(): string;
  /** The `:authority` sent to it. */
  abstract hostName(): string;
}

/** A service by fully-qualified name: `outbound|<port>||<fqdn>`. `host` (default: the fqdn) is the `:authority`. */
export class FQDNCluster extends Cluster {
  constructor(public fqdn: string, public port: u32 = 80, public host: string = "") { super(); }
  clusterName(): string { return "outbound|" + decimal(this.port) + "||" + this.fqdn; }
  hostName(): string { return this.host.length ? this.host : this.fqdn; }
}

/** A Kubernetes service: `outbound|<port>|<version>|<name>.<namespace>.svc.cluster.local`. */
export class K8sCluster extends Cluster {
  constructor(public serviceName: string, public namespace: string, public port: u32 = 80, public version: string = "", public host: string = "") { super(); }
  fqdn(): string { return this.serviceName + "." + this.namespace + ".svc.cluster.local"; }
  clusterName(): string { return "outbound|" + decimal(this.port) + "|" + this.version + "|" + this.fqdn(); }
  hostName(): string { return this.host.length ? this.host : this.fqdn(); }
}

/** A McpBridge `static` registry entry: `outbound|<port>||<name>.static`. */
export class StaticIpCluster extends Cluster {
  constructor(public serviceName: string, public port: u32 = 80, public host: string = "") { super(); }
  clusterName(): string { return "outbound|" + decimal(this.port) + "||" + this.serviceName + ".static"; }
  hostName(): string { return this.host.length ? this.host : this.serviceName; }
}

/** A McpBridge `dns` registry entry: `outbound|<port>||<name>.dns`; `:authority` is the domain. */
export class DnsCluster extends Cluster {
  constructor(public serviceName: string, public domain: string, public port: u32 = 80) { super(); }
  clusterName(): string { return "outbound|" + decimal(this.port) + "||" + this.serviceName + ".dns"; }
  hostName(): string { return this.domain; }
}

class PendingCall {
  constructor(public contextId: u32, public callback: HttpCallback) {}
}
// Calls in flight by call id; created with the first ClusterClient.
let pending: Map<u32, PendingCall> | null = null;

/** Sends HTTP requests to one cluster. */
export class ClusterClient {
  constructor(public cluster: Cluster) {
    // Linked only when a plugin makes calls, so plugins without calls stay small.
    httpCallHook = deliverHttpCallResponse;
    if (pending === null) pending = new Map<u32, PendingCall>();
  }

  /** GET `path`; see {@link call}. */
  get(ctx: HttpContext, path: string, headers: Array<Header> | null, callback: HttpCallback, timeoutMs: u32 = 500): bool {
    return this.call(ctx, "GET", path, headers, new ArrayBuffer(0), callback, timeoutMs);
  }
  /** POST `path` with a text body; see {@link call}. */
  post(ctx: HttpContext, path: string, headers: Array<Header> | null, body: string, callback: HttpCallback, timeoutMs: u32 = 500): bool {
    return this.call(ctx, "POST", path, headers, String.UTF8.encode(body, false), callback, timeoutMs);
  }
  /**
   * Sends `method path` to the cluster; `callback` runs with `ctx` when it answers. Returns false
   * (and logs why) when the host refused the call; the handler should then answer by itself.
   * Handlers return `Action.PAUSE` after a successful call and resume/deny in the callback.
   */
  call(ctx: HttpContext, method: string, path: string, headers: Array<Header> | null, body: ArrayBuffer, callback: HttpCallback, timeoutMs: u32 = 500): bool {
    const h = new Array<Header>();
    h.push(new Header(":method", method));
    h.push(new Header(":path", path));
    h.push(new Header(":authority", this.cluster.hostName()));
    if (headers !== null) {
      for (let i = 0; i < headers.length; i++) {
        const x = headers[i];
        if (x.name != ":method" && x.name != ":path" && x.name != ":authority") h.push(x);
      }
    }
    const name = this.cluster.clusterName();
    const id = host.httpCall(name, h, body, new Array<Header>(), timeoutMs);
    if (id == 0) {
      log.error("http call to cluster " + name + " was refused by the host");
      return false;
    }
    pending!.set(id, new PendingCall(ctx.id, callback));
    return true;
  }
}

/** @internal Set once a ClusterClient exists: how the dispatcher delivers call responses. */
export let httpCallHook: ((callId: u32, numHeaders: u32, bodySize: u32, ctx: (id: u32) => HttpContext | null) => void) | null = null;

/** @internal Delivers `proxy_on_http_call_response` to the stream that made the call. */
export function deliverHttpCallResponse(callId: u32, numHeaders: u32, bodySize: u32, ctx: (id: u32) => HttpContext | null): void {
  const calls = pending;
  if (calls === null || !calls.has(callId)) return;
  const call = calls.get(callId);
  calls.delete(callId);
  const c = ctx(call.contextId);
  if (c === null) return; // the stream ended while the call was in flight
  let response: HttpCallResponse;
  if (numHeaders == 0) {
    response = new HttpCallResponse(0, new Array<Header>(), new ArrayBuffer(0), true);
  } else {
    const headers = host.getHeaderMapPairs(MapType.HTTP_CALL_RESPONSE_HEADERS);
    const b = bodySize ? host.getBufferBytes(BufferType.HTTP_CALL_RESPONSE_BODY, 0, bodySize) : null;
    let status: u32 = 0;
    for (let i = 0; i < headers.length; i++) if (headers[i].name == ":status") { status = <u32>parseInt(headers[i].value, 10); break; }
    response = new HttpCallResponse(status, headers, b === null ? new ArrayBuffer(0) : b, false);
  }
  host.setEffectiveContext(call.contextId);
  call.callback(c, response);
}
