// request-block: blocks requests whose URL, headers or body contain configured strings (or whose
// URL matches a regular expression), answering `blocked_code` with `blocked_message`.
// Config and behaviour follow Higress's request-block plugin.
import { definePlugin, HttpContext, JsonObject, Action, Header, Regex, regexError, configError } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

class Config {
  blockUrls: Array<string> = new Array<string>();
  blockHeaders: Array<string> = new Array<string>();
  blockBodies: Array<string> = new Array<string>();
  blockRegexpUrls: Array<Regex> = new Array<Regex>();
  blockedCode: u32 = 403;
  blockedMessage: string = "";
  caseSensitive: bool = true;
}

/** `s` lower-cased; itself (no copy) when it has no upper-case letter, as most URLs and headers. */
function lower(s: string): string {
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c >= 0x80) return s.toLowerCase();
  }
  return s;
}

function fold(list: Array<string>, caseSensitive: bool): Array<string> {
  if (caseSensitive) return list;
  const out = new Array<string>();
  for (let i = 0; i < list.length; i++) out.push(lower(list[i]));
  return out;
}

function parseConfig(json: JsonObject, config: Config): void {
  config.caseSensitive = json.getBool("case_sensitive", true);
  config.blockUrls = fold(json.getStringArray("block_urls"), config.caseSensitive);
  config.blockHeaders = fold(json.getStringArray("block_headers"), config.caseSensitive);
  config.blockBodies = fold(json.getStringArray("block_bodies"), config.caseSensitive);
  const patterns = json.getStringArray("block_regexp_urls");
  for (let i = 0; i < patterns.length; i++) {
    const re = Regex.compile(config.caseSensitive ? patterns[i] : "(?i)" + patterns[i]);
    if (re === null) { configError("block_regexp_urls[" + i.toString() + "]: " + regexError()); return; }
    config.blockRegexpUrls.push(re);
  }
  const code = json.getInt("blocked_code", 403);
  if (code < 100 || code > 599) configError("blocked_code must be an HTTP status (100-599)");
  config.blockedCode = <u32>code;
  config.blockedMessage = json.getString("blocked_message", "");
  if (config.blockUrls.length + config.blockHeaders.length + config.blockBodies.length + config.blockRegexpUrls.length == 0)
    configError("one of block_urls, block_headers, block_bodies, block_regexp_urls is required");
}

function containsAny(text: string, needles: Array<string>): bool {
  for (let i = 0; i < needles.length; i++) if (text.includes(needles[i])) return true;
  return false;
}

function block(ctx: HttpContext, config: Config): Action {
  const h = new Array<Header>();
  h.push(new Header("content-type", "text/plain; charset=utf-8"));
  ctx.sendLocalResponse(config.blockedCode, config.blockedMessage, h, "request-block");
  return Action.PAUSE;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  const path = ctx.path();
  const url = config.caseSensitive ? path : lower(path);
  if (containsAny(url, config.blockUrls)) return block(ctx, config);
  for (let i = 0; i < config.blockRegexpUrls.length; i++) if (config.blockRegexpUrls[i].test(path)) return block(ctx, config);
  if (config.blockHeaders.length) {
    const headers = ctx.getRequestHeaders();
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i];
      if (h.name.startsWith(":")) continue;
      const value = config.caseSensitive ? h.value : lower(h.value);
      if (containsAny(h.name, config.blockHeaders) || containsAny(value, config.blockHeaders)) return block(ctx, config);
    }
  }
  if (config.blockBodies.length == 0) ctx.dontReadRequestBody();
  return Action.CONTINUE;
}

function onRequestBody(ctx: HttpContext, config: Config, body: ArrayBuffer): Action {
  const text = String.UTF8.decode(body);
  if (containsAny(config.caseSensitive ? text : lower(text), config.blockBodies)) return block(ctx, config);
  return Action.CONTINUE;
}

definePlugin<Config>("request-block", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders)
  .onHttpRequestBody(onRequestBody);
