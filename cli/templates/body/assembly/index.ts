// {{name}}: rewrites text response bodies, replacing words as the config says:
// {"replace": [{"from": "hello", "to": "goodbye"}]}. The SDK buffers the body and drops
// content-length, so the new body may have any length.
import { definePlugin, HttpContext, JsonObject, Action, log } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  patterns: Array<string> = new Array<string>();
  replacements: Array<string> = new Array<string>();
  contentTypes: Array<string> = ["text/", "application/json"];
}

function parseConfig(json: JsonObject, config: Config): void {
  const replace = json.getArray("replace");
  if (replace !== null) {
    for (let i = 0; i < replace.length; i++) {
      const r = replace.objectAt(i);
      if (r === null) return;
      config.patterns.push(r.requireString("from"));
      config.replacements.push(r.getString("to"));
    }
  }
  if (json.has("content_types")) config.contentTypes = json.getStringArray("content_types");
}

function onResponseHeaders(ctx: HttpContext, config: Config): Action {
  const type = ctx.getResponseHeader("content-type");
  let text = false;
  if (type !== null) {
    for (let i = 0; i < config.contentTypes.length; i++) if (type.startsWith(config.contentTypes[i])) text = true;
  }
  if (!text) ctx.dontReadResponseBody(); // leave images and downloads alone
  return Action.CONTINUE;
}

function onResponseBody(ctx: HttpContext, config: Config, body: ArrayBuffer): Action {
  let s = String.UTF8.decode(body);
  for (let i = 0; i < config.patterns.length; i++) s = s.replaceAll(config.patterns[i], config.replacements[i]);
  ctx.replaceResponseBody(String.UTF8.encode(s));
  log.debug("rewrote a body of " + body.byteLength.toString() + " bytes");
  return Action.CONTINUE;
}

definePlugin<Config>("{{name}}", parseConfig)
  .onHttpResponseHeaders(onResponseHeaders)
  .onHttpResponseBody(onResponseBody);
