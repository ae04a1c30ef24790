// basic-auth: HTTP Basic authentication against configured consumers. A request with valid
// credentials goes upstream with `x-mse-consumer: <name>`; rules narrow routes/domains to the
// consumers in their `allow` list. Config, statuses and messages follow Higress's basic-auth.
import { definePlugin, HttpContext, JsonObject, Action, Header, base64DecodeString, configError, log } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  /** "user:password" → consumer name */
  consumers: Map<string, string> = new Map<string, string>();
  /** Consumers allowed here; null = any consumer. */
  allow: Set<string> | null = null;
}

function parseConsumers(json: JsonObject, config: Config): void {
  const consumers = json.getArray("consumers");
  if (consumers === null) { configError("consumers is required"); return; }
  const names = new Set<string>();
  for (let i = 0; i < consumers.length; i++) {
    const c = consumers.objectAt(i);
    if (c === null) return;
    const credential = c.requireString("credential");
    const name = c.requireString("name");
    if (credential.length && credential.indexOf(":", 0) < 0) configError(c.fieldPath("credential") + " must be user:password");
    if (config.consumers.has(credential)) configError(c.fieldPath("credential") + " is repeated");
    if (names.has(name)) configError(c.fieldPath("name") + " is repeated");
    names.add(name);
    config.consumers.set(credential, name);
  }
}

function parseAllow(json: JsonObject, config: Config): void {
  if (json.has("allow")) config.allow = json.getStringSet("allow");
}

function parseConfig(json: JsonObject, config: Config): void {
  parseConsumers(json, config);
  parseAllow(json, config);
}

// A rule keeps the global consumers (unless it lists its own) and sets who may pass.
function parseRuleConfig(json: JsonObject, config: Config, global: Config): void {
  // A rule with its own consumers is a complete config (allow optional, as in a WasmPlugin
  // matchRule); one without them narrows the global consumers and must say who is allowed.
  if (json.has("consumers")) parseConsumers(json, config);
  else {
    config.consumers = global.consumers;
    if (!json.has("allow")) configError("allow is required in a rule");
  }
  parseAllow(json, config);
}

function deny(ctx: HttpContext, status: u32, why: string): Action {
  log.debug("denied " + ctx.path() + ": " + why);
  const h = new Array<Header>();
  h.push(new Header("www-authenticate", "Basic realm=MSE Gateway"));
  h.push(new Header("content-type", "text/plain; charset=utf-8"));
  ctx.sendLocalResponse(status, "Request denied by Basic Auth check. " + why, h, "basic-auth");
  return Action.PAUSE;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const auth = ctx.getRequestHeader("authorization");
  if (auth === null || auth.length < 6 || auth.substring(0, 6).toLowerCase() != "basic ")
    return deny(ctx, 401, "No Basic Authentication information found.");
  const decoded = base64DecodeString(auth.substring(6, auth.length).trim());
  if (decoded === null || decoded.indexOf(":", 0) < 0 || !config.consumers.has(decoded))
    return deny(ctx, 401, "Invalid username and/or password.");
  const consumer = config.consumers.get(decoded);
  const allow = config.allow;
  if (allow !== null && !allow.has(consumer)) return deny(ctx, 403, "Unauthorized consumer.");
  ctx.replaceRequestHeader("x-mse-consumer", consumer);
  return Action.CONTINUE;
}

definePlugin<Config>("basic-auth", parseConfig)
  .withRuleParser(parseRuleConfig)
  .onHttpRequestHeaders(onRequestHeaders);
