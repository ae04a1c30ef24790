// {{name}}: adds an x-hello header to each request (the upstream sees it) and to each response,
// and logs each request. The value comes from the plugin's config: {"message": "..."}.
import { definePlugin, HttpContext, JsonObject, Action, log } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  message: string = "hello";
}

function parseConfig(json: JsonObject, config: Config): void {
  config.message = json.getString("message", config.message);
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  log.info(ctx.method() + " " + ctx.path());
  ctx.addRequestHeader("x-hello", config.message);
  return Action.CONTINUE;
}

function onResponseHeaders(ctx: HttpContext, config: Config): Action {
  ctx.addResponseHeader("x-hello", config.message);
  return Action.CONTINUE;
}

definePlugin<Config>("{{name}}", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders)
  .onHttpResponseHeaders(onResponseHeaders);
