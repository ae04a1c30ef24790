// transformer: rewrites request headers, request query parameters and response headers with
// the operations of Higress's transformer — remove, rename, replace, add, append, map, dedupe —
// applied in configuration order. `host_pattern` / `path_pattern` (RE2, `$1` groups) make
// replace/add/append conditional and feed the value. Body transformations are not supported.
import { definePlugin, HttpContext, JsonObject, JsonArray, Action, Header, Regex, regexError, configError,
  parseQuery, withQuery, pathOnly } from "@higress-plugin/sdk";
export * from "@higress-plugin/sdk/exports";

const OPS: StaticArray<string> = ["remove", "rename", "replace", "add", "append", "map", "dedupe"];
const OP_REMOVE = 0;
const OP_RENAME = 1;
const OP_REPLACE = 2;
const OP_ADD = 3;
const OP_APPEND = 4;
const OP_MAP = 5;
const OP_DEDUPE = 6;

/** One item of a rule's `headers` / `querys` list. */
class Item {
  key: string = "";
  value: string = "";
  pattern: Regex | null = null;
  /** true: match the pattern against the host; false: against the path. */
  onHost: bool = false;
}

/** One `reqRules` / `respRules` entry. */
class Rule {
  op: i32 = 0;
  headers: Array<Item> = new Array<Item>();
  querys: Array<Item> = new Array<Item>();
}

class Config {
  reqRules: Array<Rule> = new Array<Rule>();
  respRules: Array<Rule> = new Array<Rule>();
}

function parseItems(list: JsonArray | null, op: i32, headers: bool): Array<Item> {
  const out = new Array<Item>();
  if (list === null) return out;
  for (let i = 0; i < list.length; i++) {
    const o = list.objectAt(i);
    if (o === null) return out;
    const it = new Item();
    switch (op) {
      case OP_RENAME: it.key = o.requireString("oldKey"); it.value = o.requireString("newKey"); break;
      case OP_REPLACE: it.key = o.requireString("key"); it.value = o.getString("newValue"); break;
      case OP_ADD: it.key = o.requireString("key"); it.value = o.getString("value"); break;
      case OP_APPEND: it.key = o.requireString("key"); it.value = o.getString("appendValue"); break;
      case OP_MAP: it.key = o.requireString("fromKey"); it.value = o.requireString("toKey"); break;
      case OP_DEDUPE: it.key = o.requireString("key"); it.value = o.getString("strategy", "RETAIN_FIRST"); break;
      default: it.key = o.requireString("key");
    }
    // Header names are case-insensitive (and so are rename/map targets, which are names too).
    if (headers) {
      it.key = it.key.toLowerCase();
      if (op == OP_RENAME || op == OP_MAP) it.value = it.value.toLowerCase();
    }
    // YAML configs often write "\$1": the backslash only protects the dollar sign.
    it.value = it.value.replaceAll("\\$", "$");
    if (op == OP_REPLACE || op == OP_ADD || op == OP_APPEND) {
      const host = o.getString("host_pattern");
      const path = o.getString("path_pattern");
      if (host.length || path.length) {
        const re = Regex.compile(host.length ? host : path);
        if (re === null) { configError(o.fieldPath(host.length ? "host_pattern" : "path_pattern") + ": " + regexError()); return out; }
        it.pattern = re;
        it.onHost = host.length > 0;
      }
    }
    out.push(it);
  }
  return out;
}

function parseRules(json: JsonObject, key: string, into: Array<Rule>): void {
  const rules = json.getArray(key);
  if (rules === null) return;
  for (let i = 0; i < rules.length; i++) {
    const r = rules.objectAt(i);
    if (r === null) return;
    const name = r.requireString("operate");
    const rule = new Rule();
    rule.op = -1;
    for (let k = 0; k < OPS.length; k++) if (OPS[k] == name) rule.op = k;
    if (rule.op < 0) { configError(r.fieldPath("operate") + " must be one of remove, rename, replace, add, append, map, dedupe"); return; }
    if (r.has("body")) { configError(r.fieldPath("body") + ": body transformations are not supported by this plugin"); return; }
    rule.headers = parseItems(r.getArray("headers"), rule.op, true);
    rule.querys = parseItems(r.getArray("querys"), rule.op, false);
    into.push(rule);
  }
}

function parseConfig(json: JsonObject, config: Config): void {
  parseRules(json, "reqRules", config.reqRules);
  parseRules(json, "respRules", config.respRules);
  if (config.reqRules.length + config.respRules.length == 0) configError("at least one of reqRules and respRules is required");
}

function valuesOf(list: Array<Header>, key: string): Array<string> {
  const out = new Array<string>();
  for (let i = 0; i < list.length; i++) if (list[i].name == key) out.push(list[i].value);
  return out;
}

function without(list: Array<Header>, key: string): Array<Header> {
  const out = new Array<Header>();
  for (let i = 0; i < list.length; i++) if (list[i].name != key) out.push(list[i]);
  return out;
}

/** The item's value; with a pattern, null when it does not match, else the `$n`-expanded value. */
function valueFor(it: Item, host: string, path: string): string | null {
  const re = it.pattern;
  if (re === null) return it.value;
  const subject = it.onHost ? host : path;
  const m = re.run(subject, 0);
  if (m === null) return null;
  return re.expand(it.value, subject, m);
}

/** Applies one rule's items to a key/value list (headers or query parameters). */
function apply(op: i32, items: Array<Item>, list: Array<Header>, host: string, path: string): Array<Header> {
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const existing = valuesOf(list, it.key);
    switch (op) {
      case OP_REMOVE: list = without(list, it.key); break;
      case OP_RENAME: {
        if (existing.length == 0) break;
        list = without(list, it.key);
        for (let k = 0; k < existing.length; k++) list.push(new Header(it.value, existing[k]));
        break;
      }
      case OP_REPLACE: {
        const v = valueFor(it, host, path);
        if (v === null) break;
        if (existing.length == 0) { list.push(new Header(it.key, v)); break; }
        for (let k = 0; k < list.length; k++) if (list[k].name == it.key) list[k] = new Header(it.key, v);
        break;
      }
      case OP_ADD: {
        const v = valueFor(it, host, path);
        if (v !== null && existing.length == 0) list.push(new Header(it.key, v));
        break;
      }
      case OP_APPEND: {
        const v = valueFor(it, host, path);
        if (v !== null) list.push(new Header(it.key, v));
        break;
      }
      case OP_MAP: {
        if (existing.length == 0) break;
        list = without(list, it.value);
        for (let k = 0; k < existing.length; k++) list.push(new Header(it.value, existing[k]));
        break;
      }
      default: { // dedupe
        if (existing.length == 0) break;
        const kept = new Array<string>();
        const s = it.value;
        if (s == "RETAIN_LAST") kept.push(existing[existing.length - 1]);
        else if (s == "RETAIN_UNIQUE") { for (let k = 0; k < existing.length; k++) if (!kept.includes(existing[k])) kept.push(existing[k]); }
        else if (s == "SPLIT_AND_RETAIN_FIRST") kept.push(existing[0].split(",")[0].trim());
        else if (s == "SPLIT_AND_RETAIN_LAST") { const parts = existing[existing.length - 1].split(","); kept.push(parts[parts.length - 1].trim()); }
        else kept.push(existing[0]);
        list = without(list, it.key);
        for (let k = 0; k < kept.length; k++) list.push(new Header(it.key, kept[k]));
      }
    }
  }
  return list;
}

function onRequestHeaders(ctx: HttpContext, config: Config): Action {
  if (config.reqRules.length == 0) return Action.CONTINUE;
  const all = ctx.getRequestHeaders();
  const pseudo = new Array<Header>();
  let headers = new Array<Header>();
  for (let i = 0; i < all.length; i++) (all[i].name.startsWith(":") ? pseudo : headers).push(all[i]);
  const host = ctx.host();
  let path = ctx.path();
  let query = parseQuery(path);
  let queryChanged = false;
  for (let r = 0; r < config.reqRules.length; r++) {
    const rule = config.reqRules[r];
    headers = apply(rule.op, rule.headers, headers, host, pathOnly(path));
    if (rule.querys.length) { query = apply(rule.op, rule.querys, query, host, pathOnly(path)); queryChanged = true; }
  }
  if (queryChanged) {
    path = withQuery(path, query);
    for (let i = 0; i < pseudo.length; i++) if (pseudo[i].name == ":path") pseudo[i] = new Header(":path", path);
  }
  for (let i = 0; i < headers.length; i++) pseudo.push(headers[i]);
  ctx.setRequestHeaders(pseudo);
  return Action.CONTINUE;
}

function onResponseHeaders(ctx: HttpContext, config: Config): Action {
  if (config.respRules.length == 0) return Action.CONTINUE;
  const all = ctx.getResponseHeaders();
  const pseudo = new Array<Header>();
  let headers = new Array<Header>();
  for (let i = 0; i < all.length; i++) (all[i].name.startsWith(":") ? pseudo : headers).push(all[i]);
  const host = ctx.host();
  const path = pathOnly(ctx.path());
  for (let r = 0; r < config.respRules.length; r++) headers = apply(config.respRules[r].op, config.respRules[r].headers, headers, host, path);
  for (let i = 0; i < headers.length; i++) pseudo.push(headers[i]);
  ctx.setResponseHeaders(pseudo);
  return Action.CONTINUE;
}

definePlugin<Config>("transformer", parseConfig)
  .onHttpRequestHeaders(onRequestHeaders)
  .onHttpResponseHeaders(onResponseHeaders);
