// URL helpers for `:path`: split off the query, read and rewrite query parameters, and
// percent-decode/encode (application/x-www-form-urlencoded rules: '+' is a space).
import { Header } from "./types";

/** The path part of `:path` (before `?`). */
export function pathOnly(path: string): string {
  const q = path.indexOf("?", 0);
  return q < 0 ? path : path.substring(0, q);
}

/** The query part of `:path` (after `?`, without it), "" when none. */
export function queryOf(path: string): string {
  const q = path.indexOf("?", 0);
  return q < 0 ? "" : path.substring(q + 1, path.length);
}

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
}

/** Percent-decodes `s` (`+` becomes a space); malformed escapes are kept as they are. */
export function urlDecode(s: string): string {
  if (s.indexOf("%", 0) < 0 && s.indexOf("+", 0) < 0) return s;
  const bytes = String.UTF8.encode(s, false);
  const p = changetype<usize>(bytes);
  const n = bytes.byteLength;
  const out = new ArrayBuffer(n);
  const o = changetype<usize>(out);
  let j = 0;
  for (let i = 0; i < n; i++) {
    let c = <i32>load<u8>(p + i);
    if (c == 0x2b) c = 0x20;
    else if (c == 0x25 && i + 2 < n) {
      const h = hexDigit(load<u8>(p + i + 1));
      const l = hexDigit(load<u8>(p + i + 2));
      if (h >= 0 && l >= 0) { c = (h << 4) | l; i += 2; }
    }
    store<u8>(o + j++, <u8>c);
  }
  return String.UTF8.decodeUnsafe(o, j);
}

/** Percent-encodes everything but unreserved characters (RFC 3986). */
export function urlEncode(s: string): string {
  const bytes = String.UTF8.encode(s, false);
  const p = changetype<usize>(bytes);
  const HEX = "0123456789ABCDEF";
  let out = "";
  for (let i = 0; i < bytes.byteLength; i++) {
    const c = <i32>load<u8>(p + i);
    if ((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e) out += String.fromCharCode(c);
    else out += "%" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
  }
  return out;
}

/** Query parameters of `:path` in order, decoded (a key without `=` has value ""). */
export function parseQuery(path: string): Array<Header> {
  const out = new Array<Header>();
  const q = queryOf(path);
  if (q.length == 0) return out;
  const parts = q.split("&");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part.length == 0) continue;
    const eq = part.indexOf("=", 0);
    if (eq < 0) out.push(new Header(urlDecode(part), ""));
    else out.push(new Header(urlDecode(part.substring(0, eq)), urlDecode(part.substring(eq + 1, part.length))));
  }
  return out;
}

/** First value of query parameter `name` in `:path`, or null. */
export function queryParam(path: string, name: string): string | null {
  const params = parseQuery(path);
  for (let i = 0; i < params.length; i++) if (params[i].name == name) return params[i].value;
  return null;
}

/** `path` with its query replaced by `params` (encoded; no `?` when empty). */
export function withQuery(path: string, params: Array<Header>): string {
  let out = pathOnly(path);
  for (let i = 0; i < params.length; i++) {
    out += (i == 0 ? "?" : "&") + urlEncode(params[i].name) + "=" + urlEncode(params[i].value);
  }
  return out;
}
