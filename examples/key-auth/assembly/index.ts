// key-auth: API-key authentication. The key comes from a request header or a query parameter
// named in `keys`; a known key goes upstream with `x-mse-consumer: <name>`. Rules narrow routes
// and domains to the consumers in their `allow` list. Follows Higress's key-auth.
import { definePlugin, HttpContext, JsonObject, Action, Header, queryParam, configError, log } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  /** credential → consumer name */
  consumers: Map<string, string> = new Map<string, string>();
  keys: Array<string> = new Array<string>();
  /** `keys` lower-cased, as header names are looked up. */
  headerNames: Array<string> = new Array<string>();
  inQuery: bool = true;
  inHeader: bool = true;
  /** Consumers allowed here; null = any consumer. */
  allow: Set<string> | null = null;
}

function parseShared(json: JsonObject, config: Config): void {
  const consumers = json.getArray("consumers");
  if (consumers === null) { configError("consumers is required"); return; }
  for (let i = 0; i < consumers.length; i++) {
    const c = consumers.objectAt(i);
    if (c === null) return;
    const credential = c.requireString("credential");
    if (config.consumers.has(credential)) configError(c.fieldPath("credential") + " is repeated");
    config.consumers.set(credential, c.requireString("name"));
  }
  const keys = json.getStringArray("keys");
  if (keys.length == 0) configError("keys is required (header or query parameter names)");
  for (let i = 0; i < keys.length; i++) {
    config.keys.push(keys[i]);
    config.headerNames.push(keys[i].toLowerCase());
  }
  config.inQuery = json.getBool("in_query", true);
  config.inHeader = json.getBool("in_header", true);
  if (!config.inQuery && !config.inHeader) configError("at least one of in_query and in_header must be true");
}

function parseAllow(json: JsonObject, config: Config): void {
  if (json.has("allow")) config.allow = json.getStringSet("allow");
}

function parseConfig(json: JsonObject, config: Config): void {
  parseShared(json, config);
  parseAllow(json, config);
}

function parseRuleConfig(json: JsonObject, config: Config, global: Config): void {
  // A rule with its own consumers is a complete config (allow optional, as in a WasmPlugin
  // matchRule); one without them narrows the global consumers and must say who is allowed.
  if (json.has("consumers")) parseShared(json, config);
  else {
    config.consumers = global.consumers;
    config.keys = global.keys;
    config.headerNames = global.headerNames;
    config.inQuery = global.inQuery;
    config.inHeader = global.inHeader;
    if (!json.has("allow")) configError("allow is required in a rule");
  }
  parseAllow(json, config);
}

function deny(ctx: HttpContext, status: u32, message: string): Action {
  log.debug("denied " + ctx.path() + ": " + message);
  const h = new Array<Header>();
  h.push(new Header("www-authenticate", "Key realm=MSE Gateway"));
  h.push(new Header("content-type", "text/plain; charset=utf-8"));
  ctx.sendLocalResponse(status, message, h, "key-auth");
  return Action.PAUSE;
}

function findKey(ctx: HttpContext, config: Config): string | null {
  for (let i = 0; i < config.keys.length; i++) {
    const name = config.keys[i];
    if (config.inHeader) {
      const v = ctx.getRequestHeader(config.headerNames[i]);
      if (v !== null && v.length) return v;
    }
    if (config.inQuery) {
      const v = queryParam(ctx.path(), name);
      if (v !== null && v.length) return v;
    }
  }
  return null;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const key = findKey(ctx, config);
  if (key === null) return deny(ctx, 401, "No API key found in request.");
  if (!config.consumers.has(key)) return deny(ctx, 401, "Request denied by Key Auth check. Invalid API key.");
  const consumer = config.consumers.get(key);
  const allow = config.allow;
  if (allow !== null && !allow.has(consumer)) return deny(ctx, 403, "Request denied by Key Auth check. Unauthorized consumer.");
  ctx.replaceRequestHeader("x-mse-consumer", consumer);
  return Action.CONTINUE;
}

definePlugin<Config>("key-auth", parseConfig)
  .withRuleParser(parseRuleConfig)
  .onHttpRequestHeaders(onRequestHeaders);
