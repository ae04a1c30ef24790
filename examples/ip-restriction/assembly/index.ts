// ip-restriction: allow or deny requests by client IP (single addresses or CIDR ranges, IPv4
// and IPv6), taken from the peer address or from a header such as X-Forwarded-For.
// Config follows Higress's ip-restriction.
import { definePlugin, HttpContext, JsonObject, Action, Header, IpRange, parseCidr, parseIp, hostOfAddress, configError,
  jsonQuote } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  fromHeader: bool = false;
  headerName: string = "x-forwarded-for";
  allow: Array<IpRange> = new Array<IpRange>();
  deny: Array<IpRange> = new Array<IpRange>();
  status: u32 = 403;
  body: string = "";
  contentType: string = "";
}

function ranges(json: JsonObject, key: string, into: Array<IpRange>): void {
  const list = json.getStringArray(key);
  for (let i = 0; i < list.length; i++) {
    const r = parseCidr(list[i].trim());
    if (r === null) { configError(key + "[" + i.toString() + "]: \"" + list[i] + "\" is not an IP address or CIDR range"); return; }
    into.push(r);
  }
}

function parseConfig(json: JsonObject, config: Config): void {
  const source = json.getString("ip_source_type", "origin-source");
  if (source != "origin-source" && source != "header") configError("ip_source_type must be origin-source or header");
  config.fromHeader = source == "header";
  config.headerName = json.getString("ip_header_name", "x-forwarded-for").toLowerCase();
  ranges(json, "allow", config.allow);
  ranges(json, "deny", config.deny);
  const status = json.getInt("status", 403);
  if (status < 100 || status > 599) configError("status must be an HTTP status (100-599)");
  config.status = <u32>status;
  const message = json.getString("message", "Your IP address is blocked.");
  const body = json.getString("response_body", "");
  if (body.length) {
    config.body = body;
    config.contentType = json.getString("content_type", "text/html; charset=utf-8");
  } else {
    config.body = "{\"message\":" + jsonQuote(message) + "}";
    config.contentType = "application/json; charset=utf-8";
  }
}

function matches(list: Array<IpRange>, ip: StaticArray<u8>): bool {
  for (let i = 0; i < list.length; i++) if (list[i].contains(ip)) return true;
  return false;
}

function deny(ctx: HttpContext, config: Config): Action {
  const h = new Array<Header>();
  h.push(new Header("content-type", config.contentType));
  ctx.sendLocalResponse(config.status, config.body, h, "ip-restriction");
  return Action.PAUSE;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const address: string | null = config.fromHeader ? ctx.getRequestHeader(config.headerName) : ctx.sourceAddress();
  const ip: StaticArray<u8> | null = address !== null ? parseIp(hostOfAddress(address)) : null;
  if (ip === null) return config.allow.length ? deny(ctx, config) : Action.CONTINUE;
  if (config.allow.length && !matches(config.allow, ip)) return deny(ctx, config);
  if (matches(config.deny, ip)) return deny(ctx, config);
  return Action.CONTINUE;
}

definePlugin<Config>("ip-restriction", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders);
