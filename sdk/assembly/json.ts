// A small strict JSON reader (RFC 8259) for plugin configuration: no comments, no trailing
// commas, no single quotes, escapes and numbers checked, nesting depth limited.
//
// parseJson() validates the whole text in one pass without building anything; values are views
// into the text, and an object's or array's children are listed on first access. That keeps
// the code small (a plugin is a few KB) and parsing cheap. Typed getters report wrong types
// through configError with the field's path (e.g. `consumers[1].credential`), so a bad config
// fails on_configure with a line that says where.
import { decimal } from "./decimal";
import { configError } from "./errors";

/** Kinds of JSON values. */
export enum JsonKind { NULL, BOOL, NUMBER, STRING, ARRAY, OBJECT }

const MAX_DEPTH = 100;
let parseError: string | null = null;

@inline function ch(s: string, i: i32): i32 {
  return i < s.length ? <i32>load<u16>(changetype<usize>(s) + (<usize>i << 1)) : -1;
}

function ws(s: string, i: i32): i32 {
  let c = ch(s, i);
  while (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) c = ch(s, ++i);
  return i;
}

function fail(at: i32, why: string): i32 {
  if (parseError === null) parseError = "invalid JSON at offset " + decimal(at) + ": " + why;
  return -1;
}

function digits(s: string, i: i32): i32 {
  const start = i;
  let c: i32;
  while ((c = ch(s, i)) >= 0x30 && c <= 0x39) i++;
  return i == start ? fail(i, "bad number") : i;
}

function hex(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
}

/** Validates the value at `i`; returns the offset after it, or -1 (see parseError). */
function scan(s: string, i: i32, depth: i32): i32 {
  const c = ch(s, i);
  if (c == 0x22) {
    i++;
    for (;;) {
      const d = ch(s, i++);
      if (d == 0x22) return i;
      if (d < 0x20) return fail(i - 1, d < 0 ? "unterminated string" : "control character");
      if (d == 0x5c) {
        const e = ch(s, i++);
        if (e == 0x75) {
          for (let k = 0; k < 4; k++) if (hex(ch(s, i++)) < 0) return fail(i - 1, "bad \\u escape");
        } else if (e != 0x22 && e != 0x5c && e != 0x2f && e != 0x62 && e != 0x66 && e != 0x6e && e != 0x72 && e != 0x74) {
          return fail(i - 1, "bad escape");
        }
      }
    }
  }
  if (c == 0x7b || c == 0x5b) {
    if (depth >= MAX_DEPTH) return fail(i, "nested too deep");
    const close = c + 2; // '}' or ']'
    i = ws(s, i + 1);
    if (ch(s, i) == close) return i + 1;
    for (;;) {
      if (c == 0x7b) {
        if (ch(s, i) != 0x22) return fail(i, "expected a string key");
        i = scan(s, i, depth);
        if (i < 0) return -1;
        i = ws(s, i);
        if (ch(s, i) != 0x3a) return fail(i, "expected ':'");
        i = ws(s, i + 1);
      }
      i = scan(s, i, depth + 1);
      if (i < 0) return -1;
      i = ws(s, i);
      const d = ch(s, i);
      if (d == close) return i + 1;
      if (d != 0x2c) return fail(i, c == 0x7b ? "expected ',' or '}'" : "expected ',' or ']'");
      i = ws(s, i + 1);
    }
  }
  if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
    if (c == 0x2d) i++;
    if (ch(s, i) == 0x30) i++;
    else if ((i = digits(s, i)) < 0) return -1;
    if (ch(s, i) == 0x2e && (i = digits(s, i + 1)) < 0) return -1;
    const e = ch(s, i);
    if (e == 0x65 || e == 0x45) {
      i++;
      const sign = ch(s, i);
      if (sign == 0x2b || sign == 0x2d) i++;
      if ((i = digits(s, i)) < 0) return -1;
    }
    return i;
  }
  const word = c == 0x74 ? "true" : c == 0x66 ? "false" : c == 0x6e ? "null" : "";
  let k = 0;
  while (k < word.length && ch(s, i + k) == <i32>word.charCodeAt(k)) k++;
  if (k && k == word.length) return i + k;
  return fail(i, c < 0 ? "unexpected end" : "unexpected character");
}

/** Decodes the validated string literal starting at `i` (the opening quote). */
function decodeString(s: string, i: i32, end: i32): string {
  let out = "";
  let from = i + 1;
  let j = from;
  end--; // closing quote
  while (j < end) {
    if (ch(s, j) != 0x5c) { j++; continue; }
    out += s.substring(from, j);
    const e = ch(s, j + 1);
    let c = e;
    if (e == 0x62) c = 0x08;
    else if (e == 0x66) c = 0x0c;
    else if (e == 0x6e) c = 0x0a;
    else if (e == 0x72) c = 0x0d;
    else if (e == 0x74) c = 0x09;
    else if (e == 0x75) {
      c = 0;
      for (let k = 2; k < 6; k++) c = (c << 4) | hex(ch(s, j + k));
      j += 4;
    }
    out += String.fromCharCode(c);
    j += 2;
    from = j;
  }
  return from == i + 1 ? s.substring(from, end) : out + s.substring(from, end);
}

/** Reads the validated number literal at `[i, end)`: digits as an integer mantissa, then scaled
 * by a power of ten (hand-rolled: strtod alone would be a third of a small plugin). */
function decodeNumber(s: string, i: i32, end: i32): f64 {
  let neg = false;
  let mant: f64 = 0;
  let exp: i32 = 0;
  let frac = false;
  if (ch(s, i) == 0x2d) { neg = true; i++; }
  for (; i < end; i++) {
    const c = ch(s, i);
    if (c == 0x2e) { frac = true; continue; }
    if (c == 0x65 || c == 0x45) break;
    mant = mant * 10 + <f64>(c - 0x30);
    if (frac) exp--;
  }
  if (i < end) {
    i++;
    let eneg = false;
    const sign = ch(s, i);
    if (sign == 0x2b || sign == 0x2d) { eneg = sign == 0x2d; i++; }
    let e = 0;
    for (; i < end; i++) if (e < 10000) e = e * 10 + ch(s, i) - 0x30;
    exp += eneg ? -e : e;
  }
  let p: f64 = 1;
  for (let k = 0, n = exp < 0 ? -exp : exp; k < n && k < 400; k++) p *= 10;
  const v = exp < 0 ? mant / p : mant * p;
  return neg ? -v : v;
}

function kindOf(c: i32): JsonKind {
  if (c == 0x7b) return JsonKind.OBJECT;
  if (c == 0x5b) return JsonKind.ARRAY;
  if (c == 0x22) return JsonKind.STRING;
  if (c == 0x74 || c == 0x66) return JsonKind.BOOL;
  if (c == 0x6e) return JsonKind.NULL;
  return JsonKind.NUMBER;
}

function kindName(kind: i32): string {
  switch (kind) {
    case JsonKind.NULL: return "null";
    case JsonKind.BOOL: return "a boolean";
    case JsonKind.NUMBER: return "a number";
    case JsonKind.STRING: return "a string";
    case JsonKind.ARRAY: return "an array";
    case JsonKind.OBJECT: return "an object";
  }
  return "nothing";
}

@inline function kindOfValue(v: JsonValue | null): i32 { return v === null ? -1 : <i32>v.kind; }

/**
 * A JSON value: a view into the configuration text. Check `kind`, or use the typed getters.
 * {@link JsonObject} and {@link JsonArray} name this same class.
 */
export class JsonValue {
  private kids: Array<JsonValue> | null = null;
  private names: Array<string> | null = null;
  /** The value's kind. */
  readonly kind: JsonKind;

  constructor(private src: string, private start: i32, private end: i32, public path: string) {
    this.kind = kindOf(ch(src, start));
  }

  /** The string, or null when this is not a string. */
  asString(): string | null { return this.kind == JsonKind.STRING ? decodeString(this.src, this.start, this.end) : null; }
  /** The number, or NaN when this is not a number. */
  asNumber(): f64 { return this.kind == JsonKind.NUMBER ? decodeNumber(this.src, this.start, this.end) : NaN; }
  /** This value when it is an object, else null. */
  asObject(): JsonObject | null { return this.kind == JsonKind.OBJECT ? this : null; }
  /** This value when it is an array, else null. */
  asArray(): JsonArray | null { return this.kind == JsonKind.ARRAY ? this : null; }
  /** True for `true`, false for anything else. */
  isTrue(): bool { return ch(this.src, this.start) == 0x74; }
  /** The value's JSON text, as written in the configuration. */
  toString(): string { return this.src.substring(this.start, this.end); }

  /** Children (array items or object values) and, for objects, their keys; listed once. */
  private list(): Array<JsonValue> {
    let kids = this.kids;
    if (kids !== null) return kids;
    this.kids = kids = new Array<JsonValue>();
    const names = new Array<string>();
    this.names = names;
    const s = this.src;
    const obj = this.kind == JsonKind.OBJECT;
    if (!obj && this.kind != JsonKind.ARRAY) return kids;
    let i = ws(s, this.start + 1);
    while (i < this.end - 1) {
      let path = this.path;
      if (obj) {
        const k = scan(s, i, 0);
        const name = decodeString(s, i, k);
        names.push(name);
        path = path.length ? path + "." + name : name;
        i = ws(s, ws(s, k) + 1);
      } else {
        path += "[" + decimal(kids.length) + "]";
      }
      const e = scan(s, i, 0);
      kids.push(new JsonValue(s, i, e, path));
      i = ws(s, ws(s, e) + 1);
    }
    return kids;
  }

  // ---- arrays ------------------------------------------------------------------------------
  /** Number of items (arrays) or keys (objects); 0 for other kinds. */
  get length(): i32 { return this.list().length; }
  /** Item `i`, or null. */
  at(i: i32): JsonValue | null { const k = this.list(); return i >= 0 && i < k.length ? unchecked(k[i]) : null; }
  /** Item `i` as an object; reports a config error when it is something else. */
  objectAt(i: i32): JsonObject | null {
    const v = this.at(i);
    if (v !== null && v.kind == JsonKind.OBJECT) return v;
    configError(this.path + "[" + decimal(i) + "] must be an object, got " + kindName(kindOfValue(v)));
    return null;
  }
  /** Item `i` as a string; reports a config error (and returns "") when it is something else. */
  stringAt(i: i32): string {
    const v = this.at(i);
    if (v !== null && v.kind == JsonKind.STRING) return v.asString()!;
    configError(this.path + "[" + decimal(i) + "] must be a string, got " + kindName(kindOfValue(v)));
    return "";
  }

  // ---- objects -----------------------------------------------------------------------------
  /** Keys of an object, in document order (empty for other kinds). */
  keys(): Array<string> { this.list(); return this.names!; }
  /** The value of `key` (the last one if repeated), or null. */
  get(key: string): JsonValue | null {
    const kids = this.list();
    const names = this.names!;
    for (let i = names.length - 1; i >= 0; i--) if (unchecked(names[i]) == key) return unchecked(kids[i]);
    return null;
  }
  /** True when `key` is present (even as null). */
  has(key: string): bool { return this.get(key) !== null; }
  /** `path.key`, for error messages. */
  fieldPath(key: string): string { return this.path.length ? this.path + "." + key : key; }

  /** Field `key` when present and of `kind`; null when missing or JSON null; config error on another kind. */
  private field(key: string, kind: JsonKind): JsonValue | null {
    const v = this.get(key);
    if (v === null || v.kind == JsonKind.NULL) return null;
    if (v.kind == kind) return v;
    configError(this.fieldPath(key) + " must be " + kindName(kind) + ", got " + kindName(v.kind));
    return null;
  }
  /** String field; `dflt` when missing or null; config error when it is another type. */
  getString(key: string, dflt: string = ""): string {
    const v = this.field(key, JsonKind.STRING);
    return v === null ? dflt : v.asString()!;
  }
  /** String field that must be present and non-empty. */
  requireString(key: string): string {
    const s = this.getString(key);
    if (s.length == 0) configError(this.fieldPath(key) + " is required (a non-empty string)");
    return s;
  }
  /** Boolean field; `dflt` when missing or null. */
  getBool(key: string, dflt: bool = false): bool {
    const v = this.field(key, JsonKind.BOOL);
    return v === null ? dflt : v.isTrue();
  }
  /** Number field; `dflt` when missing or null. */
  getNumber(key: string, dflt: f64 = 0): f64 {
    const v = this.field(key, JsonKind.NUMBER);
    return v === null ? dflt : v.asNumber();
  }
  /** Integer field; `dflt` when missing or null; config error when fractional or huge. */
  getInt(key: string, dflt: i64 = 0): i64 {
    const n = this.getNumber(key, <f64>dflt);
    if (n != Math.floor(n) || Math.abs(n) > 9007199254740991) { configError(this.fieldPath(key) + " must be an integer"); return dflt; }
    return <i64>n;
  }
  /** Object field, or null when missing; config error when it is another type. */
  getObject(key: string): JsonObject | null { return this.field(key, JsonKind.OBJECT); }
  /** Array field, or null when missing; config error when it is another type. */
  getArray(key: string): JsonArray | null { return this.field(key, JsonKind.ARRAY); }
  /** Array-of-strings field; empty when missing; config error on non-string items. */
  getStringArray(key: string): Array<string> {
    const a = this.getArray(key);
    const out = new Array<string>();
    if (a !== null) for (let i = 0, n = a.length; i < n; i++) out.push(a.stringAt(i));
    return out;
  }
  /** Array-of-strings field as a set (duplicates folded); empty when missing. */
  getStringSet(key: string): Set<string> {
    const a = this.getStringArray(key);
    const out = new Set<string>();
    for (let i = 0, n = a.length; i < n; i++) out.add(a[i]);
    return out;
  }
}

/** A JSON object (a {@link JsonValue} of kind OBJECT). */
export type JsonObject = JsonValue;
/** A JSON array (a {@link JsonValue} of kind ARRAY). */
export type JsonArray = JsonValue;

/** An empty object (what an empty plugin configuration means). */
export function newJsonObject(): JsonObject {
  return new JsonValue("{}", 0, 2, "");
}

/** Why the last {@link parseJson} returned null. */
export function jsonParseError(): string {
  const e = parseError;
  return e === null ? "" : e;
}

/** Parses strict JSON; null (see {@link jsonParseError}) when the text is not valid JSON. */
export function parseJson(text: string): JsonValue | null {
  parseError = null;
  const start = ws(text, 0);
  const end = scan(text, start, 0);
  if (end < 0) return null;
  if (ws(text, end) < text.length) { fail(ws(text, end), "trailing characters"); return null; }
  return new JsonValue(text, start, end, "");
}

/** Quotes a string as a JSON string literal. */
export function jsonQuote(s: string): string {
  let out = "\"";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c || c < 0x20) {
      out += s.substring(from, i);
      if (c == 0x22) out += "\\\"";
      else if (c == 0x5c) out += "\\\\";
      else out += (c < 0x10 ? "\\u000" : "\\u001") + "0123456789abcdef".charAt(c & 15);
      from = i + 1;
    }
  }
  return out + s.substring(from, s.length) + "\"";
}
