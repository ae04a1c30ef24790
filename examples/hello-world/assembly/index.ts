// hello-world: adds a response header to every request and logs the request path.
import { definePlugin, HttpContext, JsonObject, Action, LogLevel, log, logEnabled } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  header: string = "x-hello";
  value: string = "world";
}

function parseConfig(json: JsonObject, config: Config): void {
  config.header = json.getString("header", config.header);
  config.value = json.getString("value", config.value);
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  // Checked first, so the message is not built (nor the path read) when info lines are off.
  if (logEnabled(LogLevel.INFO)) log.info("hello " + ctx.path());
  ctx.addRequestHeader(config.header, config.value);
  return Action.CONTINUE;
}

function onResponseHeaders(ctx: HttpContext, config: Config): Action {
  ctx.addResponseHeader(config.header, config.value);
  return Action.CONTINUE;
}

definePlugin<Config>("hello-world", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders)
  .onHttpResponseHeaders(onResponseHeaders);
