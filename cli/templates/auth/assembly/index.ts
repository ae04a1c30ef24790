// {{name}}: API-key authentication. A request must carry a known key in the key header
// (default x-api-key); it then goes upstream with x-mse-consumer set to the consumer's name
// (as Higress's key-auth does), without the key. Otherwise the answer is 401.
// Route and domain rules may narrow who gets in: {"allow": ["alice"]}.
import { definePlugin, HttpContext, JsonObject, Action, Header, log } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  /** key → consumer name */
  consumers: Map<string, string> = new Map<string, string>();
  header: string = "x-api-key";
  /** Consumers allowed; null = every consumer. */
  allow: Set<string> | null = null;
}

function parseConfig(json: JsonObject, config: Config): void {
  const consumers = json.getArray("consumers");
  if (consumers !== null) {
    for (let i = 0; i < consumers.length; i++) {
      const c = consumers.objectAt(i);
      if (c === null) return;
      config.consumers.set(c.requireString("key"), c.requireString("name"));
    }
  }
  config.header = json.getString("header", config.header);
  if (json.has("allow")) config.allow = toSet(json.getStringArray("allow"));
}

// A rule (route or domain) keeps the global consumers and header and sets its own allow list.
function parseRuleConfig(json: JsonObject, config: Config, global: Config): void {
  config.consumers = global.consumers;
  config.header = global.header;
  config.allow = toSet(json.getStringArray("allow"));
}

function toSet(names: Array<string>): Set<string> {
  const s = new Set<string>();
  for (let i = 0; i < names.length; i++) s.add(names[i]);
  return s;
}

function deny(ctx: HttpContext, why: string): Action {
  log.info("denied " + ctx.method() + " " + ctx.path() + ": " + why);
  const headers = new Array<Header>();
  headers.push(new Header("www-authenticate", 'Key realm="{{name}}"'));
  headers.push(new Header("content-type", "text/plain"));
  ctx.sendLocalResponse(401, "Unauthorized: " + why + "\n", headers);
  return Action.PAUSE;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const key = ctx.getRequestHeader(config.header);
  if (key === null || key.length == 0) return deny(ctx, "no API key in " + config.header);
  if (!config.consumers.has(key)) return deny(ctx, "unknown API key");
  const consumer = config.consumers.get(key);
  const allow = config.allow;
  if (allow !== null && !allow.has(consumer)) return deny(ctx, consumer + " may not call this route");
  ctx.removeRequestHeader(config.header);
  ctx.replaceRequestHeader("x-mse-consumer", consumer);
  return Action.CONTINUE;
}

definePlugin<Config>("{{name}}", parseConfig)
  .withRuleParser(parseRuleConfig)
  .onHttpRequestHeaders(onRequestHeaders);
