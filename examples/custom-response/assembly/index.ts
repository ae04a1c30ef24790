// custom-response: answers with a configured status, headers and body — for every request
// (mocking), or only in place of responses whose status is in `enable_on_status` (e.g. turn a
// 429 into a redirect). Follows Higress's custom-response.
import { definePlugin, HttpContext, JsonObject, Action, Header, configError } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  status: u32 = 200;
  headers: Array<Header> = new Array<Header>();
  body: string = "";
  enableOnStatus: Array<u32> = new Array<u32>();
}

function parseConfig(json: JsonObject, config: Config): void {
  const status = json.getInt("status_code", 200);
  if (status < 100 || status > 599) configError("status_code must be an HTTP status (100-599)");
  config.status = <u32>status;
  config.body = json.getString("body", "");
  const headers = json.getStringArray("headers");
  let hasType = false;
  for (let i = 0; i < headers.length; i++) {
    const eq = headers[i].indexOf("=", 0);
    if (eq <= 0) { configError("headers[" + i.toString() + "] must be name=value"); return; }
    const name = headers[i].substring(0, eq).trim().toLowerCase();
    if (name == "content-type") hasType = true;
    config.headers.push(new Header(name, headers[i].substring(eq + 1, headers[i].length).trim()));
  }
  // Like Higress: a body that looks like JSON is served as JSON unless a type is configured.
  if (!hasType && config.body.length) {
    const first = config.body.trimStart();
    const json = first.startsWith("{") || first.startsWith("[");
    config.headers.push(new Header("content-type", json ? "application/json; charset=utf-8" : "text/plain; charset=utf-8"));
  }
  const codes = json.getArray("enable_on_status");
  if (codes !== null) {
    for (let i = 0; i < codes.length; i++) {
      const v = codes.at(i)!.asNumber();
      if (!(v >= 100 && v <= 599)) { configError("enable_on_status[" + i.toString() + "] must be an HTTP status"); return; }
      config.enableOnStatus.push(<u32>v);
    }
  }
}

function respond(ctx: HttpContext, config: Config): Action {
  ctx.sendLocalResponse(config.status, config.body, config.headers, "custom-response");
  return Action.PAUSE;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  return config.enableOnStatus.length == 0 ? respond(ctx, config) : Action.CONTINUE;
}

function onResponseHeaders(ctx: HttpContext, config: Config): Action {
  if (ctx.localResponseSent || config.enableOnStatus.length == 0) return Action.CONTINUE;
  if (!config.enableOnStatus.includes(ctx.status())) { ctx.dontReadResponseBody(); return Action.CONTINUE; }
  if (ctx.sendLocalResponse(config.status, config.body, config.headers, "custom-response")) return Action.PAUSE;
  // The host refused a new local response: this response is itself a local one (another plugin's
  // 401, say) on its way out. Rewrite it in place: status and headers now, body when it passes.
  ctx.replaceResponseHeader(":status", config.status.toString());
  for (let i = 0; i < config.headers.length; i++) ctx.replaceResponseHeader(config.headers[i].name, config.headers[i].value);
  ctx.setContext<bool>("rewrite-body", true);
  return Action.CONTINUE;
}

function onResponseBody(ctx: HttpContext, config: Config, body: ArrayBuffer): Action {
  if (ctx.getContext<bool>("rewrite-body", false)) ctx.replaceResponseBody(String.UTF8.encode(config.body));
  return Action.CONTINUE;
}

definePlugin<Config>("custom-response", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders)
  .onHttpResponseHeaders(onResponseHeaders)
  .onHttpResponseBody(onResponseBody);
