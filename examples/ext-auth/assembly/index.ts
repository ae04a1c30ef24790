// ext-auth: asks an external HTTP authorization service about each request (Higress's ext-auth,
// modelled on Envoy's ext_authz). The request pauses while the call is out; 200 resumes it
// (copying allowed headers of the answer onto it), any other status denies it with that
// status, and a failed call or a 5xx denies with `status_on_error` — or lets it through when
// `failure_mode_allow` is set.
import { definePlugin, HttpContext, JsonObject, JsonArray, Action, Header, ClusterClient, FQDNCluster, HttpCallResponse,
  Regex, regexError, configError, log } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

const M_EXACT = 0;
const M_PREFIX = 1;
const M_SUFFIX = 2;
const M_CONTAINS = 3;
const M_REGEX = 4;

/** A header-name matcher (Envoy StringMatcher: exact / prefix / suffix / contains / regex). */
class Matcher {
  kind: i32 = M_EXACT;
  text: string = "";
  re: Regex | null = null;
  test(name: string): bool {
    switch (this.kind) {
      case M_EXACT: return name == this.text;
      case M_PREFIX: return name.startsWith(this.text);
      case M_SUFFIX: return name.endsWith(this.text);
      case M_CONTAINS: return name.includes(this.text);
      default: return this.re!.test(name);
    }
  }
}

class Config {
  client: ClusterClient | null = null;
  forwardAuth: bool = false;
  pathPrefix: string = "";
  path: string = "";
  method: string = "GET";
  timeoutMs: u32 = 1000;
  allowedHeaders: Array<Matcher> = new Array<Matcher>();
  headersToAdd: Array<Header> = new Array<Header>();
  allowedUpstreamHeaders: Array<Matcher> = new Array<Matcher>();
  /** null = all answer headers go to the client on a denial. */
  allowedClientHeaders: Array<Matcher> | null = null;
  failureModeAllow: bool = false;
  failureModeAllowHeaderAdd: bool = false;
  statusOnError: u32 = 403;
}

const KINDS: StaticArray<string> = ["exact", "prefix", "suffix", "contains", "regex"];

function matchers(list: JsonArray | null): Array<Matcher> {
  const out = new Array<Matcher>();
  if (list === null) return out;
  for (let i = 0; i < list.length; i++) {
    const o = list.objectAt(i);
    if (o === null) return out;
    const m = new Matcher();
    m.kind = -1;
    for (let k = 0; k < KINDS.length; k++) if (o.has(KINDS[k])) { m.kind = k; m.text = o.getString(KINDS[k]).toLowerCase(); }
    if (m.kind < 0) { configError(o.path + ": one of exact, prefix, suffix, contains, regex is required"); return out; }
    if (m.kind == M_REGEX) {
      m.re = Regex.compile(o.getString("regex"));
      if (m.re === null) { configError(o.fieldPath("regex") + ": " + regexError()); return out; }
    }
    out.push(m);
  }
  return out;
}

function parseConfig(json: JsonObject, config: Config): void {
  const svc = json.getObject("http_service");
  if (svc === null) { configError("http_service is required"); return; }
  const mode = svc.getString("endpoint_mode", "envoy");
  if (mode != "envoy" && mode != "forward_auth") configError("http_service.endpoint_mode must be envoy or forward_auth");
  config.forwardAuth = mode == "forward_auth";
  const ep = svc.getObject("endpoint");
  if (ep === null) { configError("http_service.endpoint is required"); return; }
  const port = ep.getInt("service_port", 80);
  if (port < 1 || port > 65535) configError(ep.fieldPath("service_port") + " must be 1-65535");
  // service_name is the FQDN Higress knows: ext-auth.dns, ext-auth.backend.svc.cluster.local...
  config.client = new ClusterClient(new FQDNCluster(ep.requireString("service_name"), <u32>port, ep.getString("service_host")));
  if (config.forwardAuth) {
    config.path = ep.requireString("path");
    config.method = ep.getString("request_method", "GET").toUpperCase();
  } else {
    config.pathPrefix = ep.requireString("path_prefix");
  }
  config.timeoutMs = <u32>svc.getInt("timeout", 1000);
  const req = svc.getObject("authorization_request");
  if (req !== null) {
    config.allowedHeaders = matchers(req.getArray("allowed_headers"));
    const add = req.getObject("headers_to_add");
    if (add !== null) {
      const keys = add.keys();
      for (let i = 0; i < keys.length; i++) {
        const v = add.get(keys[i])!;
        const s = v.asString();
        config.headersToAdd.push(new Header(keys[i].toLowerCase(), s !== null ? s : v.toString()));
      }
    }
  }
  const resp = svc.getObject("authorization_response");
  if (resp !== null) {
    config.allowedUpstreamHeaders = matchers(resp.getArray("allowed_upstream_headers"));
    if (resp.has("allowed_client_headers")) config.allowedClientHeaders = matchers(resp.getArray("allowed_client_headers"));
  }
  config.failureModeAllow = json.getBool("failure_mode_allow", false);
  config.failureModeAllowHeaderAdd = json.getBool("failure_mode_allow_header_add", false);
  const status = json.getInt("status_on_error", 403);
  if (status < 100 || status > 599) configError("status_on_error must be an HTTP status (100-599)");
  config.statusOnError = <u32>status;
}

function anyMatch(list: Array<Matcher>, name: string): bool {
  for (let i = 0; i < list.length; i++) if (list[i].test(name)) return true;
  return false;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const headers = new Array<Header>();
  const auth = ctx.getRequestHeader("authorization");
  if (auth !== null) headers.push(new Header("authorization", auth));
  if (config.allowedHeaders.length) {
    const all = ctx.getRequestHeaders();
    for (let i = 0; i < all.length; i++) {
      const h = all[i];
      if (!h.name.startsWith(":") && h.name != "authorization" && anyMatch(config.allowedHeaders, h.name)) headers.push(h);
    }
  }
  let method = ctx.method();
  let path = config.pathPrefix + ctx.path();
  if (config.forwardAuth) {
    method = config.method;
    path = config.path;
    headers.push(new Header("x-forwarded-proto", ctx.scheme()));
    headers.push(new Header("x-forwarded-method", ctx.method()));
    headers.push(new Header("x-forwarded-host", ctx.authority()));
    headers.push(new Header("x-forwarded-uri", ctx.path()));
  }
  for (let i = 0; i < config.headersToAdd.length; i++) headers.push(config.headersToAdd[i]);
  if (!config.client!.call(ctx, method, path, headers, new ArrayBuffer(0), onAnswer, config.timeoutMs)) {
    onFailure(ctx, config, null);
    return ctx.localResponseSent ? Action.PAUSE : Action.CONTINUE;
  }
  return Action.PAUSE; // until onAnswer resumes or denies
}

/** The service could not be reached or answered 5xx. */
function onFailure(ctx: HttpContext, config: Config, answer: HttpCallResponse | null): void {
  if (config.failureModeAllow) {
    if (config.failureModeAllowHeaderAdd) ctx.replaceRequestHeader("x-envoy-auth-failure-mode-allowed", "true");
    return;
  }
  deny(ctx, config, config.statusOnError, answer);
}

function deny(ctx: HttpContext, config: Config, status: u32, answer: HttpCallResponse | null): void {
  const h = new Array<Header>();
  let body = "";
  if (answer !== null) {
    body = answer.bodyText();
    for (let i = 0; i < answer.headers.length; i++) {
      const x = answer.headers[i];
      if (x.name.startsWith(":") || x.name == "content-length" || x.name == "transfer-encoding") continue;
      const allowed = config.allowedClientHeaders;
      if (allowed === null || anyMatch(allowed, x.name)) h.push(x);
    }
  }
  ctx.sendLocalResponse(status, body, h, "ext-auth");
}

function onAnswer(ctx: HttpContext, answer: HttpCallResponse): void {
  const config = changetype<Config>(ctx.config);
  if (answer.failed || answer.status >= 500) {
    log.warn("authorization service " + (answer.failed ? "unreachable" : "answered " + answer.status.toString()) + " for " + ctx.path());
    onFailure(ctx, config, answer.failed ? null : answer);
    if (!ctx.localResponseSent) ctx.resume();
    return;
  }
  if (answer.status != 200) {
    deny(ctx, config, answer.status, answer);
    return;
  }
  for (let i = 0; i < answer.headers.length; i++) {
    const x = answer.headers[i];
    if (!x.name.startsWith(":") && anyMatch(config.allowedUpstreamHeaders, x.name)) ctx.replaceRequestHeader(x.name, x.value);
  }
  ctx.resume();
}

definePlugin<Config>("ext-auth", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders);
