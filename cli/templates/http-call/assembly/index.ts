// {{name}}: before a request goes upstream, asks an HTTP service whether it may. The request
// pauses while the call is out; a 2xx answer lets it through (optionally copying one header of
// the answer onto it), anything else — or no answer in time — gets 403.
import { definePlugin, HttpContext, JsonObject, Action, Header, log, ClusterClient, FQDNCluster,
  HttpCallResponse, configError } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  client: ClusterClient | null = null;
  path: string = "/check";
  timeoutMs: u32 = 1000;
  forwardHeader: string = "";
}

function parseConfig(json: JsonObject, config: Config): void {
  const service = json.requireString("service");
  const port = json.getInt("port", 80);
  if (port < 1 || port > 65535) configError("port must be 1-65535");
  // FQDNCluster names the cluster outbound|<port>||<service>, as Higress does for
  // McpBridge services (auth.static, auth.dns) and Kubernetes FQDNs.
  config.client = new ClusterClient(new FQDNCluster(service, <u32>port));
  config.path = json.getString("path", config.path);
  config.timeoutMs = <u32>json.getInt("timeout_ms", config.timeoutMs);
  config.forwardHeader = json.getString("forward_header", "");
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const headers = new Array<Header>();
  headers.push(new Header("x-original-method", ctx.method()));
  headers.push(new Header("x-original-path", ctx.path()));
  const auth = ctx.getRequestHeader("authorization");
  if (auth !== null) headers.push(new Header("authorization", auth));
  if (!config.client!.get(ctx, config.path, headers, onAnswer, config.timeoutMs)) {
    ctx.sendLocalResponse(503, "authorization service unavailable\n");
    return Action.PAUSE;
  }
  return Action.PAUSE; // until onAnswer resumes or denies
}

function onAnswer(ctx: HttpContext, response: HttpCallResponse): void {
  if (response.failed || response.status < 200 || response.status >= 300) {
    log.info("denied " + ctx.path() + " (service answered " + (response.failed ? "nothing" : response.status.toString()) + ")");
    ctx.sendLocalResponse(403, "Forbidden\n");
    return;
  }
  const config = changetype<Config>(ctx.config);
  if (config.forwardHeader.length) {
    const v = response.header(config.forwardHeader);
    if (v !== null) ctx.replaceRequestHeader(config.forwardHeader, v);
  }
  ctx.resume();
}

definePlugin<Config>("{{name}}", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders);
