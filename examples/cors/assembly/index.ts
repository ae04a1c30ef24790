// cors: Cross-Origin Resource Sharing, as Higress's cors plugin. Preflight requests (OPTIONS
// with Access-Control-Request-Method) are answered here; actual cross-origin requests get the
// CORS response headers; a disallowed origin, method or header gets 403 "Invalid CORS request".
import { definePlugin, HttpContext, JsonObject, Action, Header, Regex, configError } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

const DEFAULT_METHODS = "GET,PUT,POST,DELETE,PATCH,OPTIONS";
const DEFAULT_HEADERS = "DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Authorization";

class Config {
  origins: Array<string> = new Array<string>();
  anyOrigin: bool = false;
  originPatterns: Array<Regex> = new Array<Regex>();
  methods: Array<string> = new Array<string>();
  anyMethod: bool = false;
  headers: Array<string> = new Array<string>();
  anyHeader: bool = false;
  expose: Array<string> = new Array<string>();
  credentials: bool = false;
  maxAge: i64 = 86400;
}

function list(json: JsonObject, key: string, dflt: string): Array<string> {
  const values = json.has(key) ? json.getStringArray(key) : dflt.split(",");
  const out = new Array<string>();
  for (let i = 0; i < values.length; i++) { const v = values[i].trim(); if (v.length) out.push(v); }
  return out;
}

/** `http://*.example.com:[8080,9090]` → an anchored regex; `*` alone matches every origin. */
function originPattern(p: string): Regex | null {
  if (p == "*") return Regex.compile("^.*$");
  let host = p;
  let ports = "";
  const bracket = p.lastIndexOf(":[", i32.MAX_VALUE);
  if (bracket >= 0 && p.endsWith("]")) {
    host = p.substring(0, bracket);
    const inner = p.substring(bracket + 2, p.length - 1);
    ports = inner == "*" ? "(:\\d+)?" : ":(" + inner.split(",").map<string>((x: string) => x.trim()).join("|") + ")";
  }
  let re = "^";
  for (let i = 0; i < host.length; i++) {
    const c = host.charAt(i);
    if (c == "*") re += "[a-zA-Z0-9.-]*";
    else if (".+?()[]{}|^$\\".includes(c)) re += "\\" + c;
    else re += c;
  }
  return Regex.compile(re + ports + "$");
}

function parseConfig(json: JsonObject, config: Config): void {
  config.credentials = json.getBool("allow_credentials", false);
  const origins = list(json, "allow_origins", json.has("allow_origin_patterns") ? "" : "*");
  for (let i = 0; i < origins.length; i++) {
    if (origins[i] == "*") config.anyOrigin = true;
    else config.origins.push(origins[i].toLowerCase());
  }
  const patterns = json.getStringArray("allow_origin_patterns");
  for (let i = 0; i < patterns.length; i++) {
    const re = originPattern(patterns[i].toLowerCase());
    if (re === null) { configError("allow_origin_patterns[" + i.toString() + "] is not a valid pattern"); return; }
    config.originPatterns.push(re);
  }
  config.methods = list(json, "allow_methods", DEFAULT_METHODS);
  config.anyMethod = config.methods.includes("*");
  config.headers = list(json, "allow_headers", DEFAULT_HEADERS);
  config.anyHeader = config.headers.includes("*");
  config.expose = list(json, "expose_headers", "");
  config.maxAge = json.getInt("max_age", 86400);
}

function originAllowed(config: Config, origin: string): bool {
  const o = origin.toLowerCase();
  if (config.anyOrigin || config.origins.includes(o)) return true;
  for (let i = 0; i < config.originPatterns.length; i++) if (config.originPatterns[i].test(o)) return true;
  return false;
}

function containsFold(list: Array<string>, value: string): bool {
  const v = value.toLowerCase();
  for (let i = 0; i < list.length; i++) if (list[i].toLowerCase() == v) return true;
  return false;
}

/** The Access-Control-Allow-Origin value: `*` only when any origin may call without credentials. */
function allowOrigin(config: Config, origin: string): string {
  return config.anyOrigin && !config.credentials ? "*" : origin;
}

function invalid(ctx: HttpContext): Action {
  const h = new Array<Header>();
  h.push(new Header("content-type", "text/plain"));
  ctx.sendLocalResponse(403, "Invalid CORS request", h, "cors");
  return Action.PAUSE;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const origin = ctx.getRequestHeader("origin");
  if (origin === null) return Action.CONTINUE; // not a cross-origin request
  if (!originAllowed(config, origin)) return invalid(ctx);
  const requestMethod = ctx.getRequestHeader("access-control-request-method");
  if (ctx.method() != "OPTIONS" || requestMethod === null) {
    ctx.setContext<string>("origin", origin);
    return Action.CONTINUE;
  }
  // Preflight.
  if (!config.anyMethod && !containsFold(config.methods, requestMethod)) return invalid(ctx);
  const requested = ctx.getRequestHeader("access-control-request-headers");
  const wanted = requested === null ? new Array<string>() : requested.split(",");
  if (!config.anyHeader) {
    for (let i = 0; i < wanted.length; i++) {
      const w = wanted[i].trim();
      if (w.length && !containsFold(config.headers, w)) return invalid(ctx);
    }
  }
  const h = new Array<Header>();
  h.push(new Header("access-control-allow-origin", allowOrigin(config, origin)));
  h.push(new Header("access-control-allow-methods", config.anyMethod ? requestMethod : config.methods.join(",")));
  const allowHeaders = config.anyHeader ? (requested === null ? "" : requested) : config.headers.join(",");
  if (allowHeaders.length) h.push(new Header("access-control-allow-headers", allowHeaders));
  if (config.expose.length) h.push(new Header("access-control-expose-headers", config.expose.join(",")));
  if (config.credentials) h.push(new Header("access-control-allow-credentials", "true"));
  h.push(new Header("access-control-max-age", config.maxAge.toString()));
  ctx.sendLocalResponse(200, "", h, "cors-preflight");
  return Action.PAUSE;
}

function onResponseHeaders(ctx: HttpContext, config: Config): Action {
  const origin = ctx.getContext<string>("origin", "");
  if (origin.length == 0) return Action.CONTINUE;
  ctx.replaceResponseHeader("access-control-allow-origin", allowOrigin(config, origin));
  if (config.expose.length) ctx.replaceResponseHeader("access-control-expose-headers", config.expose.join(","));
  if (config.credentials) ctx.replaceResponseHeader("access-control-allow-credentials", "true");
  return Action.CONTINUE;
}

definePlugin<Config>("cors", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders)
  .onHttpResponseHeaders(onResponseHeaders);
