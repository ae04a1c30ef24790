// SDK test plugin (compiled by test/sdk/*.test.ts into a temp folder).
// - Adds `x-config: <name>` and `x-extra: <extra>` from the config that applies to the request,
//   so a test sees which rule (or the global config) matched.
// - `x-json: <text>` answers 200 with "<kind> <compact text>" or 400 with the parse error.
// - `x-regex: <pattern>` + `x-input: <text>` answers 200 with "match <groups joined by |>" /
//   "nomatch", or 400 with the compile error; with `x-replace: <template>` the body is the
//   replaced text.
// - `x-grpc-call: <method>` calls demo.Echo/<method> on grpc.example and answers with the result;
//   `x-grpc-stream: <method>` opens a stream there, sends "one" (and "two", ending its side, when
//   "echo:one" comes back) and answers with everything it heard when the stream closes.
import { definePlugin, HttpContext, JsonObject, JsonValue, JsonKind, Action, parseJson, jsonParseError, Header, Regex, regexError,
  Counter, Histogram, sharedAdd, getSharedString, base64EncodeString, base64DecodeString, log,
  GrpcClient, GrpcResponse, GrpcStream, GrpcStreamHandler, FQDNCluster } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  name: string = "default";
  extra: string = "";
}

function parseConfig(json: JsonObject, config: Config): void {
  config.name = json.getString("name", config.name);
  config.extra = json.getString("extra", "");
}

function parseRuleConfig(json: JsonObject, config: Config, global: Config): void {
  config.name = json.getString("name", global.name);
  config.extra = json.getString("extra", global.extra);
}

function describe(v: JsonValue): string {
  switch (v.kind) {
    case JsonKind.STRING: return "string " + v.asString()!;
    case JsonKind.NUMBER: return "number " + v.asNumber().toString();
    case JsonKind.BOOL: return "bool " + (v.isTrue() ? "true" : "false");
    case JsonKind.NULL: return "null";
    case JsonKind.ARRAY: {
      let s = "array " + v.length.toString() + " [";
      for (let i = 0; i < v.length; i++) s += (i ? "," : "") + describe(v.at(i)!);
      return s + "]";
    }
    default: {
      const keys = v.keys();
      let s = "object {";
      for (let i = 0; i < keys.length; i++) s += (i ? "," : "") + keys[i] + "=" + describe(v.get(keys[i])!);
      return s + "}";
    }
  }
}

function reply(ctx: HttpContext, status: u32, body: string): Action {
  const h = new Array<Header>();
  h.push(new Header("content-type", "text/plain"));
  ctx.sendLocalResponse(status, body, h);
  return Action.PAUSE;
}

function valueOf(list: Array<Header>, name: string): string {
  for (let i = 0; i < list.length; i++) if (list[i].name == name) return list[i].value;
  return "none";
}

function onGrpcAnswer(ctx: HttpContext, r: GrpcResponse): void {
  if (r.ok) reply(ctx, 200, "grpc:" + r.messageText());
  else reply(ctx, 502, "grpc status " + r.status.toString() + ": " + r.statusMessage);
}

class ProbeStream extends GrpcStreamHandler {
  heard: string = "";
  onInitialMetadata(ctx: HttpContext, stream: GrpcStream, metadata: Array<Header>): void { this.heard += "md:" + valueOf(metadata, "x-md") + ";"; }
  onMessage(ctx: HttpContext, stream: GrpcStream, message: ArrayBuffer): void {
    const text = String.UTF8.decode(message);
    this.heard += "msg:" + text + ";";
    if (text == "echo:one") stream.sendText("two", true);
  }
  onTrailingMetadata(ctx: HttpContext, stream: GrpcStream, metadata: Array<Header>): void { this.heard += "tr:" + valueOf(metadata, "x-tr") + ";"; }
  onClose(ctx: HttpContext, stream: GrpcStream, status: u32, message: string): void {
    reply(ctx, 200, this.heard + "close:" + status.toString() + ":" + message);
  }
}

function grpcMetadata(): Array<Header> {
  const md = new Array<Header>();
  md.push(new Header("x-from", "sdk-probe"));
  return md;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const grpcMethod = ctx.getRequestHeader("x-grpc-call");
  if (grpcMethod !== null) {
    const client = new GrpcClient(new FQDNCluster("grpc.example"));
    if (!client.call(ctx, "demo.Echo", grpcMethod, grpcMetadata(), String.UTF8.encode("hello"), onGrpcAnswer, 2000)) return reply(ctx, 500, "refused");
    return Action.PAUSE;
  }
  const streamMethod = ctx.getRequestHeader("x-grpc-stream");
  if (streamMethod !== null) {
    const s = new GrpcClient(new FQDNCluster("grpc.example")).stream(ctx, "demo.Echo", streamMethod, grpcMetadata(), new ProbeStream());
    if (s === null) return reply(ctx, 500, "refused");
    s.sendText("one");
    return Action.PAUSE;
  }
  const json = ctx.getRequestHeader("x-json");
  if (json !== null) {
    const v = parseJson(json);
    return v === null ? reply(ctx, 400, jsonParseError()) : reply(ctx, 200, describe(v));
  }
  const pattern = ctx.getRequestHeader("x-regex");
  if (pattern !== null) {
    const re = Regex.compile(pattern);
    if (re === null) return reply(ctx, 400, regexError());
    const input = ctx.getRequestHeader("x-input")!;
    const template = ctx.getRequestHeader("x-replace");
    if (template !== null) return reply(ctx, 200, re.replaceAll(input, template));
    const m = re.exec(input);
    return reply(ctx, 200, m === null ? "nomatch" : "match " + m.join("|"));
  }
  if (ctx.getRequestHeader("x-abort") !== null) abort("probe abort requested");
  const prop = ctx.getRequestHeader("x-prop");
  if (prop !== null) {
    const v = ctx.getProperty(prop);
    return reply(ctx, v === null ? 404 : 200, v === null ? "" : v);
  }
  const b64 = ctx.getRequestHeader("x-b64");
  if (b64 !== null) {
    const d = base64DecodeString(b64);
    return reply(ctx, 200, base64EncodeString(ctx.path()) + " " + (d === null ? "(invalid)" : d));
  }
  if (ctx.getRequestHeader("x-count") !== null) {
    const n = sharedAdd("sdk-probe/count", 1);
    ctx.replaceRequestHeader("x-count", n.toString() + "/" + getSharedString("sdk-probe/count")!);
  }
  if (ctx.getRequestHeader("x-upper") !== null) ctx.setContext<bool>("upper", true);
  if (ctx.getRequestHeader("x-lower") !== null) ctx.setContext<bool>("lower", true);
  ctx.setContext<i32>("started", 7);
  ctx.replaceRequestHeader("x-config", config.name);
  if (config.extra.length) ctx.replaceRequestHeader("x-extra", config.extra);
  return Action.CONTINUE;
}

/** Upper-cases request body chunks as they stream (when the request asked with x-upper). */
function onRequestChunk(ctx: HttpContext, config: Config, chunk: ArrayBuffer, endOfStream: bool): ArrayBuffer {
  if (!ctx.getContext<bool>("upper", false)) return chunk;
  return String.UTF8.encode(String.UTF8.decode(chunk).toUpperCase() + (endOfStream ? "!" : ""));
}

/** Lower-cases response body chunks as they stream (when the request asked with x-lower). */
function onResponseChunk(ctx: HttpContext, config: Config, chunk: ArrayBuffer, endOfStream: bool): ArrayBuffer {
  if (!ctx.getContext<bool>("lower", false)) return chunk;
  return String.UTF8.encode(String.UTF8.decode(chunk).toLowerCase());
}

const requests = new Counter("sdk_probe_requests");
const sizes = new Histogram("sdk_probe_path_length");

function onDone(ctx: HttpContext, config: Config): void {
  const route = ctx.routeName();
  requests.increment(1, ["route", route.length ? route : "none", "typed", ctx.getContext<i32>("started", 0).toString()]);
  sizes.record(<u64>ctx.path().length);
}

let ticks = 0;
function onTick(): void {
  ticks++;
  log.info("tick " + ticks.toString());
}

definePlugin<Config>("sdk-probe", parseConfig)
  .withRuleParser(parseRuleConfig)
  .onHttpRequestHeaders(onRequestHeaders)
  .onHttpStreamingRequestBody(onRequestChunk)
  .onHttpStreamingResponseBody(onResponseChunk)
  .onHttpStreamDone(onDone)
  .onTick(250, onTick);
