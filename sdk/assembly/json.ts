// A small strict JSON parser (RFC 8259) for plugin configuration: no comments, no trailing
// commas, no single quotes, escapes and numbers checked. Objects keep key order. Parse errors
// name the byte offset; typed getters report wrong types through configError with the field's
// path (e.g. `consumers[1].credential`), so a bad config fails on_configure with a useful line.
import { configError } from "./errors";

/** Kinds of JSON values. */
export enum JsonKind { NULL, BOOL, NUMBER, STRING, ARRAY, OBJECT }

/**
 * Any JSON value. One class for every kind (fewer classes keep small plugins small): check
 * `kind`, or use the typed getters. {@link JsonObject} and {@link JsonArray} name the same class.
 */
export class JsonValue {
  /** The text of a string. */
  str: string = "";
  /** The value of a number, or 1/0 for a boolean. */
  num: f64 = 0;
  /** Items of an array, values of an object. */
  items: Array<JsonValue> | null = null;
  /** Keys of an object, in document order. */
  keys: Array<string> | null = null;
  /** Where this value sits in the configuration (`consumers[1]`), for error messages. */
  path: string = "";
  constructor(public kind: JsonKind) {}

  /** The string, or null when this is not a string. */
  asString(): string | null { return this.kind == JsonKind.STRING ? this.str : null; }
  /** The number, or NaN when this is not a number. */
  asNumber(): f64 { return this.kind == JsonKind.NUMBER ? this.num : NaN; }
  /** This value when it is an object, else null. */
  asObject(): JsonObject | null { return this.kind == JsonKind.OBJECT ? this : null; }
  /** This value when it is an array, else null. */
  asArray(): JsonArray | null { return this.kind == JsonKind.ARRAY ? this : null; }
  /** True for `true`, false for anything else. */
  isTrue(): bool { return this.kind == JsonKind.BOOL && this.num != 0; }
  /** Compact JSON text of this value. */
  toString(): string { const out = new Array<string>(); stringify(this, out); return out.join(""); }

  // ---- arrays ------------------------------------------------------------------------------
  /** Number of items (arrays) or keys (objects). */
  get length(): i32 { const it = this.items; return it === null ? 0 : it.length; }
  /** Item `i` of an array, or null. */
  at(i: i32): JsonValue | null { const it = this.items; return it !== null && i >= 0 && i < it.length ? it[i] : null; }
  /** Item `i` as an object; reports a config error when it is something else. */
  objectAt(i: i32): JsonObject | null {
    const v = this.at(i);
    if (v !== null && v.kind == JsonKind.OBJECT) return v;
    configError(this.path + "[" + i.toString() + "] must be an object, got " + kindName(v));
    return null;
  }
  /** Item `i` as a string; reports a config error (and returns "") when it is something else. */
  stringAt(i: i32): string {
    const v = this.at(i);
    if (v !== null && v.kind == JsonKind.STRING) return v.str;
    configError(this.path + "[" + i.toString() + "] must be a string, got " + kindName(v));
    return "";
  }

  // ---- objects -----------------------------------------------------------------------------
  /** The value of `key` (last one if repeated), or null. */
  get(key: string): JsonValue | null {
    const ks = this.keys;
    if (ks === null) return null;
    for (let i = ks.length - 1; i >= 0; i--) if (unchecked(ks[i]) == key) return unchecked(this.items![i]);
    return null;
  }
  /** True when `key` is present (even as null). */
  has(key: string): bool { return this.get(key) !== null; }
  /** `path.key`, for error messages. */
  fieldPath(key: string): string { return this.path.length ? this.path + "." + key : key; }

  /** Field `key` if present and of `kind`; null when missing or JSON null; config error on another kind. */
  private field(key: string, kind: JsonKind, want: string): JsonValue | null {
    const v = this.get(key);
    if (v === null || v.kind == JsonKind.NULL) return null;
    if (v.kind == kind) return v;
    configError(this.fieldPath(key) + " must be " + want + ", got " + kindName(v));
    return null;
  }
  /** String field; `dflt` when missing or null; config error when it is another type. */
  getString(key: string, dflt: string = ""): string {
    const v = this.field(key, JsonKind.STRING, "a string");
    return v === null ? dflt : v.str;
  }
  /** String field that must be present and non-empty. */
  requireString(key: string): string {
    const s = this.getString(key);
    if (s.length == 0) configError(this.fieldPath(key) + " is required (a non-empty string)");
    return s;
  }
  /** Boolean field; `dflt` when missing or null. */
  getBool(key: string, dflt: bool = false): bool {
    const v = this.field(key, JsonKind.BOOL, "a boolean");
    return v === null ? dflt : v.num != 0;
  }
  /** Number field; `dflt` when missing or null. */
  getNumber(key: string, dflt: f64 = 0): f64 {
    const v = this.field(key, JsonKind.NUMBER, "a number");
    return v === null ? dflt : v.num;
  }
  /** Integer field; `dflt` when missing or null; config error when fractional. */
  getInt(key: string, dflt: i64 = 0): i64 {
    const n = this.getNumber(key, <f64>dflt);
    if (n != Math.floor(n) || Math.abs(n) > 9007199254740991) { configError(this.fieldPath(key) + " must be an integer"); return dflt; }
    return <i64>n;
  }
  /** Object field, or null when missing; config error when it is another type. */
  getObject(key: string): JsonObject | null { return this.field(key, JsonKind.OBJECT, "an object"); }
  /** Array field, or null when missing; config error when it is another type. */
  getArray(key: string): JsonArray | null { return this.field(key, JsonKind.ARRAY, "an array"); }
  /** Array-of-strings field; empty when missing; config error on non-string items. */
  getStringArray(key: string): Array<string> {
    const a = this.getArray(key);
    const out = new Array<string>();
    if (a !== null) for (let i = 0; i < a.length; i++) out.push(a.stringAt(i));
    return out;
  }
}

/** A JSON object (a {@link JsonValue} of kind OBJECT). */
export type JsonObject = JsonValue;
/** A JSON array (a {@link JsonValue} of kind ARRAY). */
export type JsonArray = JsonValue;

/** A new empty object at `path`. */
export function newJsonObject(path: string = ""): JsonObject {
  const o = new JsonValue(JsonKind.OBJECT);
  o.keys = new Array<string>();
  o.items = new Array<JsonValue>();
  o.path = path;
  return o;
}

function scalar(kind: JsonKind, str: string, num: f64): JsonValue {
  const v = new JsonValue(kind);
  v.str = str;
  v.num = num;
  return v;
}

function kindName(v: JsonValue | null): string {
  if (v === null) return "nothing";
  switch (v.kind) {
    case JsonKind.NULL: return "null";
    case JsonKind.BOOL: return "a boolean";
    case JsonKind.NUMBER: return "a number";
    case JsonKind.STRING: return "a string";
    case JsonKind.ARRAY: return "an array";
    default: return "an object";
  }
}

let parseError: string | null = null;

/** Why the last {@link parseJson} returned null. */
export function jsonParseError(): string {
  const e = parseError;
  return e === null ? "" : e;
}

/** Parses strict JSON; null (see {@link jsonParseError}) when the text is not valid JSON. */
export function parseJson(text: string): JsonValue | null {
  parseError = null;
  const p = new Parser(text);
  p.ws();
  const v = p.value("", 0);
  if (v === null) return null;
  p.ws();
  if (p.pos < text.length) { p.fail("unexpected character after the value"); return null; }
  return v;
}

const MAX_DEPTH = 100;

class Parser {
  pos: i32 = 0;
  len: i32;
  constructor(public s: string) { this.len = s.length; }

  c(): i32 { return this.pos < this.len ? <i32>load<u16>(changetype<usize>(this.s) + (<usize>this.pos << 1)) : -1; }
  fail(why: string): void {
    if (parseError === null) parseError = "invalid JSON at offset " + this.pos.toString() + ": " + why;
  }
  ws(): void {
    for (;;) {
      const c = this.c();
      if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) this.pos++;
      else return;
    }
  }
  word(w: string): bool {
    if (this.s.substr(this.pos, w.length) == w) { this.pos += w.length; return true; }
    this.fail("expected " + w);
    return false;
  }
  value(path: string, depth: i32): JsonValue | null {
    if (depth > MAX_DEPTH) { this.fail("nested too deep"); return null; }
    const c = this.c();
    if (c == 0x7b) return this.object(path, depth);
    if (c == 0x5b) return this.array(path, depth);
    if (c == 0x22) { const s = this.string(); return s === null ? null : scalar(JsonKind.STRING, s, 0); }
    if (c == 0x74) return this.word("true") ? scalar(JsonKind.BOOL, "", 1) : null;
    if (c == 0x66) return this.word("false") ? scalar(JsonKind.BOOL, "", 0) : null;
    if (c == 0x6e) return this.word("null") ? scalar(JsonKind.NULL, "", 0) : null;
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    this.fail(c < 0 ? "unexpected end of input" : "unexpected character");
    return null;
  }
  object(path: string, depth: i32): JsonValue | null {
    const o = newJsonObject(path);
    this.pos++;
    this.ws();
    if (this.c() == 0x7d) { this.pos++; return o; }
    for (;;) {
      if (this.c() != 0x22) { this.fail("expected a string key"); return null; }
      const k = this.string();
      if (k === null) return null;
      this.ws();
      if (this.c() != 0x3a) { this.fail("expected ':'"); return null; }
      this.pos++;
      this.ws();
      const v = this.value(path.length ? path + "." + k : k, depth + 1);
      if (v === null) return null;
      o.keys!.push(k);
      o.items!.push(v);
      this.ws();
      const c = this.c();
      this.pos++;
      if (c == 0x2c) { this.ws(); continue; }
      if (c == 0x7d) return o;
      this.pos--;
      this.fail("expected ',' or '}'");
      return null;
    }
  }
  array(path: string, depth: i32): JsonValue | null {
    const a = new JsonValue(JsonKind.ARRAY);
    a.path = path;
    const items = new Array<JsonValue>();
    a.items = items;
    this.pos++;
    this.ws();
    if (this.c() == 0x5d) { this.pos++; return a; }
    for (;;) {
      const v = this.value(path + "[" + items.length.toString() + "]", depth + 1);
      if (v === null) return null;
      items.push(v);
      this.ws();
      const c = this.c();
      this.pos++;
      if (c == 0x2c) { this.ws(); continue; }
      if (c == 0x5d) return a;
      this.pos--;
      this.fail("expected ',' or ']'");
      return null;
    }
  }
  string(): string | null {
    const s = this.s;
    this.pos++; // opening quote
    let start = this.pos;
    let acc = "";
    let escaped = false;
    for (;;) {
      if (this.pos >= s.length) { this.fail("unterminated string"); return null; }
      const c = s.charCodeAt(this.pos);
      if (c == 0x22) {
        const tail = s.substring(start, this.pos);
        this.pos++;
        return escaped ? acc + tail : tail;
      }
      if (c < 0x20) { this.fail("control character in string"); return null; }
      if (c != 0x5c) { this.pos++; continue; }
      acc += s.substring(start, this.pos);
      escaped = true;
      this.pos++;
      const e = this.c();
      this.pos++;
      let out: i32 = -1;
      switch (e) {
        case 0x22: out = 0x22; break;
        case 0x5c: out = 0x5c; break;
        case 0x2f: out = 0x2f; break;
        case 0x62: out = 0x08; break;
        case 0x66: out = 0x0c; break;
        case 0x6e: out = 0x0a; break;
        case 0x72: out = 0x0d; break;
        case 0x74: out = 0x09; break;
        case 0x75: {
          let u = 0;
          for (let i = 0; i < 4; i++) {
            const h = this.c();
            this.pos++;
            let d = -1;
            if (h >= 0x30 && h <= 0x39) d = h - 0x30;
            else if (h >= 0x61 && h <= 0x66) d = h - 0x57;
            else if (h >= 0x41 && h <= 0x46) d = h - 0x37;
            if (d < 0) { this.pos--; this.fail("bad \\u escape"); return null; }
            u = (u << 4) | d;
          }
          out = u;
          break;
        }
        default: { this.pos--; this.fail("bad escape"); return null; }
      }
      acc += String.fromCharCode(out);
      start = this.pos;
    }
    return null;
  }
  number(): JsonValue | null {
    // Hand-rolled instead of parseFloat (strtod alone would be a third of a small plugin):
    // digits as an integer mantissa, then scaled by a power of ten (exact for config numbers).
    let neg = false;
    if (this.c() == 0x2d) { neg = true; this.pos++; }
    let c = this.c();
    let mant: f64 = 0;
    let exp: i32 = 0;
    if (c == 0x30) { this.pos++; }
    else if (c >= 0x31 && c <= 0x39) { while ((c = this.c()) >= 0x30 && c <= 0x39) { mant = mant * 10 + <f64>(c - 0x30); this.pos++; } }
    else { this.fail("bad number"); return null; }
    if (this.c() == 0x2e) {
      this.pos++;
      const start = this.pos;
      while ((c = this.c()) >= 0x30 && c <= 0x39) { mant = mant * 10 + <f64>(c - 0x30); exp--; this.pos++; }
      if (this.pos == start) { this.fail("bad number"); return null; }
    }
    c = this.c();
    if (c == 0x65 || c == 0x45) {
      this.pos++;
      c = this.c();
      let eneg = false;
      if (c == 0x2b || c == 0x2d) { eneg = c == 0x2d; this.pos++; }
      const start = this.pos;
      let e: i32 = 0;
      while ((c = this.c()) >= 0x30 && c <= 0x39) { if (e < 100000) e = e * 10 + (c - 0x30); this.pos++; }
      if (this.pos == start) { this.fail("bad number"); return null; }
      exp += eneg ? -e : e;
    }
    let v = mant;
    if (exp < 0) { let p: f64 = 1; for (let i = 0; i < -exp && i < 400; i++) p *= 10; v = mant / p; }
    else { for (let i = 0; i < exp && i < 400; i++) v *= 10; }
    return scalar(JsonKind.NUMBER, "", neg ? -v : v);
  }
}

function quote(s: string, out: Array<string>): void {
  out.push("\"");
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c || c < 0x20) {
      out.push(s.substring(start, i));
      if (c == 0x22) out.push("\\\"");
      else if (c == 0x5c) out.push("\\\\");
      else if (c == 0x0a) out.push("\\n");
      else if (c == 0x0d) out.push("\\r");
      else if (c == 0x09) out.push("\\t");
      else out.push("\\u00" + (c < 0x10 ? "0" : "") + c.toString(16));
      start = i + 1;
    }
  }
  out.push(s.substring(start));
  out.push("\"");
}

/** Quotes a string as a JSON string literal. */
export function jsonQuote(s: string): string {
  const out = new Array<string>();
  quote(s, out);
  return out.join("");
}

function stringify(v: JsonValue, out: Array<string>): void {
  switch (v.kind) {
    case JsonKind.NULL: out.push("null"); break;
    case JsonKind.BOOL: out.push(v.num != 0 ? "true" : "false"); break;
    case JsonKind.NUMBER: {
      const n = v.num;
      out.push(n == Math.floor(n) && Math.abs(n) < 1e15 ? (<i64>n).toString() : n.toString());
      break;
    }
    case JsonKind.STRING: quote(v.str, out); break;
    case JsonKind.ARRAY: {
      const items = v.items!;
      out.push("[");
      for (let i = 0; i < items.length; i++) { if (i) out.push(","); stringify(items[i], out); }
      out.push("]");
      break;
    }
    default: {
      const keys = v.keys!;
      const vals = v.items!;
      out.push("{");
      for (let i = 0; i < keys.length; i++) {
        if (i) out.push(",");
        quote(keys[i], out);
        out.push(":");
        stringify(vals[i], out);
      }
      out.push("}");
    }
  }
}
