// response-body-rewrite: rewrites response bodies with regular expressions (RE2 syntax, `$1`
// groups), for the content types configured. The body is buffered whole (up to
// `max_body_bytes`; bigger bodies pass unchanged), rewritten once, and sent on without a
// stale Content-Length.
import { definePlugin, HttpContext, JsonObject, Action, Regex, regexError, configError } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Rewrite {
  constructor(public pattern: Regex, public replace: string) {}
}

class Config {
  rewrites: Array<Rewrite> = new Array<Rewrite>();
  contentTypes: Array<string> = new Array<string>();
  maxBodyBytes: u32 = 1 << 20;
}

function parseConfig(json: JsonObject, config: Config): void {
  const rules = json.getArray("rules");
  if (rules === null || rules.length == 0) { configError("rules is required"); return; }
  for (let i = 0; i < rules.length; i++) {
    const r = rules.objectAt(i);
    if (r === null) return;
    const re = Regex.compile(r.requireString("pattern"));
    if (re === null) { configError(r.fieldPath("pattern") + ": " + regexError()); return; }
    config.rewrites.push(new Rewrite(re, r.getString("replace")));
  }
  const types = json.has("content_types") ? json.getStringArray("content_types") : ["text/html", "text/plain", "application/json"];
  for (let i = 0; i < types.length; i++) config.contentTypes.push(types[i].toLowerCase());
  const max = json.getInt("max_body_bytes", 1 << 20);
  if (max <= 0 || max > 0x7fffffff) configError("max_body_bytes must be a positive integer");
  config.maxBodyBytes = <u32>max;
}

function onResponseHeaders(ctx: HttpContext, config: Config): Action {
  const type = ctx.getResponseHeader("content-type");
  let wanted = false;
  if (type !== null) {
    const t = type.toLowerCase();
    for (let i = 0; i < config.contentTypes.length; i++) if (t.startsWith(config.contentTypes[i])) wanted = true;
  }
  const length = ctx.getResponseHeader("content-length");
  if (!wanted || (length !== null && <f64>parseInt(length, 10) > <f64>config.maxBodyBytes)) {
    ctx.dontReadResponseBody();
    return Action.CONTINUE;
  }
  ctx.setResponseBodyBufferLimit(config.maxBodyBytes);
  return Action.CONTINUE;
}

function onResponseBody(ctx: HttpContext, config: Config, body: ArrayBuffer): Action {
  let text = String.UTF8.decode(body);
  for (let i = 0; i < config.rewrites.length; i++) text = config.rewrites[i].pattern.replaceAll(text, config.rewrites[i].replace);
  ctx.replaceResponseBody(String.UTF8.encode(text));
  return Action.CONTINUE;
}

definePlugin<Config>("response-body-rewrite", parseConfig)
  .onHttpResponseHeaders(onResponseHeaders)
  .onHttpResponseBody(onResponseBody);
