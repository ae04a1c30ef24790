/**
 * Standard proxy header handling: hop-by-hop stripping (RFC 9110 §7.6.1, plus the names that
 * `Connection` lists), `x-forwarded-*`, `x-request-id`, `via`.
 */
import type { HeaderList } from '../host/types.js';
import { lowerAscii } from '../host/header-codec.js';

/** True for a (lower-case) header a proxy must not forward. By length first: a few compares, no hashing. */
export function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2: return name === 'te';
    case 7: return name === 'trailer' || name === 'upgrade';
    case 10: return name === 'connection' || name === 'keep-alive';
    case 14: return name === 'http2-settings';
    case 16: return name === 'proxy-connection';
    case 17: return name === 'transfer-encoding';
    case 18: return name === 'proxy-authenticate';
    case 19: return name === 'proxy-authorization';
  }
  return false;
}

/**
 * Request headers as the plugin chain and the upstream see them: pseudo-headers first, names
 * lower-case, hop-by-hop headers (and those `connection` names) removed. `te: trailers` is kept
 * because gRPC requires it.
 */
export function requestHeaderList(raw: string[], method: string, path: string, authority: string, scheme: string): HeaderList {
  const out: HeaderList = [[':authority', authority], [':path', path], [':method', method], [':scheme', scheme]];
  let connectionTokens: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = lowerAscii(raw[i]);
    if (name.charCodeAt(0) === 58 /* : */) continue;
    if (name === 'host') continue;
    if (name === 'connection') connectionTokens = raw[i + 1].toLowerCase().split(',').map((s) => s.trim());
    if (isHopByHop(name)) {
      if (name === 'te' && raw[i + 1].toLowerCase().includes('trailers')) out.push(['te', 'trailers']);
      continue;
    }
    out.push([name, raw[i + 1]]);
  }
  if (connectionTokens) {
    for (let i = out.length - 1; i >= 4; i--) if (connectionTokens.includes(out[i][0])) out.splice(i, 1);
  }
  return out;
}

/** Index of a header in a list, or -1. */
export function findHeader(list: HeaderList, name: string): number {
  for (let i = 0; i < list.length; i++) if (list[i][0] === name) return i;
  return -1;
}

/** Sets a header (replacing every existing value). */
export function setHeader(list: HeaderList, name: string, value: string): void {
  let found = false;
  for (let i = list.length - 1; i >= 0; i--) {
    if (list[i][0] === name) {
      if (found) list.splice(i, 1);
      else { list[i][1] = value; found = true; }
    }
  }
  if (!found) list.push([name, value]);
}

/** Removes every value of a header. */
export function removeHeader(list: HeaderList, name: string): void {
  for (let i = list.length - 1; i >= 0; i--) if (list[i][0] === name) list.splice(i, 1);
}

/** Adds the forwarding headers for a request arriving from `clientIp`. */
export function addForwardedHeaders(list: HeaderList, clientIp: string, proto: string, authority: string, requestId: string, via: boolean, protocol: string): void {
  const xff = findHeader(list, 'x-forwarded-for');
  if (xff >= 0) list[xff][1] = `${list[xff][1]}, ${clientIp}`;
  else list.push(['x-forwarded-for', clientIp]);
  if (findHeader(list, 'x-forwarded-proto') < 0) list.push(['x-forwarded-proto', proto]);
  if (findHeader(list, 'x-forwarded-host') < 0) list.push(['x-forwarded-host', authority]);
  if (findHeader(list, 'x-request-id') < 0) list.push(['x-request-id', requestId]);
  if (via) {
    const v = findHeader(list, 'via');
    const mine = `${protocol === 'HTTP/2' ? '2' : '1.1'} higress-plugin`;
    if (v >= 0) list[v][1] = `${list[v][1]}, ${mine}`;
    else list.push(['via', mine]);
  }
}

/**
 * Response headers from an upstream (undici's object form) as a header list with `:status`
 * first; hop-by-hop headers removed.
 */
export function responseHeaderList(status: number, headers: Record<string, string | string[] | undefined>): HeaderList {
  const out: HeaderList = [[':status', String(status)]];
  for (const name in headers) {
    if (isHopByHop(name) || name.charCodeAt(0) === 58) continue;
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') out.push([name, v]);
    else for (const x of v) out.push([name, x]);
  }
  return out;
}

/**
 * undici's raw header pieces (alternating name and value buffers) as latin1 strings, which keep
 * every byte as it came. The parser hands out views of the socket chunk the head arrived in, so
 * the whole head usually decodes in one native call and each piece is a substring of it; pieces
 * from elsewhere (a head split across reads) decode one by one.
 */
function decodeRaw(raw: Buffer[]): string[] {
  const n = raw.length;
  const out = new Array<string>(n);
  if (n === 0) return out;
  const memory = raw[0].buffer;
  let lo = raw[0].byteOffset;
  let hi = lo + raw[0].length;
  for (let i = 1; i < n; i++) {
    const b = raw[i];
    if (b.buffer !== memory) {
      for (let j = 0; j < n; j++) out[j] = raw[j].toString('latin1');
      return out;
    }
    if (b.byteOffset < lo) lo = b.byteOffset;
    if (b.byteOffset + b.length > hi) hi = b.byteOffset + b.length;
  }
  const text = Buffer.from(memory, lo, hi - lo).toString('latin1');
  for (let i = 0; i < n; i++) {
    const start = raw[i].byteOffset - lo;
    out[i] = text.substring(start, start + raw[i].length);
  }
  return out;
}

/**
 * Response headers as undici's dispatcher hands them over, as a flat `[name, value, ...]` list
 * for `writeHead`: names lower-case, hop-by-hop headers removed.
 */
export function rawHeaderPairs(raw: Buffer[]): string[] {
  const text = decodeRaw(raw);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 2) {
    const name = lowerAscii(text[i]);
    if (!isHopByHop(name)) out.push(name, text[i + 1]);
  }
  return out;
}

/** undici's raw response head as a header list with `:status` first (filtered as {@link rawHeaderPairs}). */
export function rawHeaderList(status: number, raw: Buffer[]): HeaderList {
  const text = decodeRaw(raw);
  const out: HeaderList = [[':status', String(status)]];
  for (let i = 0; i < text.length; i += 2) {
    const name = lowerAscii(text[i]);
    if (!isHopByHop(name)) out.push([name, text[i + 1]]);
  }
  return out;
}

/**
 * A header list without its pseudo-headers, in a form `writeHead` takes (Node's array of
 * `[name, value]` entries). The usual list has only `:status` first: then it is one native slice.
 */
export function outgoingHeaders(list: HeaderList): HeaderList {
  let start = 0;
  while (start < list.length && list[start][0].charCodeAt(0) === 58) start++;
  for (let i = start; i < list.length; i++) {
    if (list[i][0].charCodeAt(0) === 58) return list.filter((h) => h[0].charCodeAt(0) !== 58);
  }
  return start ? list.slice(start) : list;
}

/** A header list (without pseudo-headers) as a Node outgoing-headers object. */
export function toHeaderObject(list: HeaderList): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of list) {
    if (k.charCodeAt(0) === 58) continue;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (typeof prev === 'string') out[k] = [prev, v];
    else prev.push(v);
  }
  return out;
}
