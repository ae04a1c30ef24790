/**
 * Standard proxy header handling: hop-by-hop stripping (RFC 9110 §7.6.1, plus the names that
 * `Connection` lists), `x-forwarded-*`, `x-request-id`, `via`.
 */
import { util as undiciUtil } from 'undici';
import type { HeaderList } from '../host/types.js';
import type { ModelSettings } from './config-model.js';
import { lowerAscii } from '../host/header-codec.js';
import { SHORT_LATIN1, shortLatin1 } from '../host/memory-view.js';

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
    if (name === 'connection') {
      // Usually just keep-alive or close (hop-by-hop themselves): only other names need a list.
      const v = raw[i + 1].toLowerCase();
      if (v !== 'keep-alive' && v !== 'close') connectionTokens = v.split(',').map((s) => s.trim());
    }
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

/** Adds the forwarding headers for a request arriving from `clientIp` (one pass over the list to find those present). */
export function addForwardedHeaders(list: HeaderList, clientIp: string, proto: string, authority: string, requestId: string,
  settings: Pick<ModelSettings, 'via' | 'addXRealIp'>, protocol: string): void {
  let xff = -1;
  let v = -1;
  let hasProto = false;
  let hasHost = false;
  let hasId = false;
  for (let i = 0; i < list.length; i++) {
    const k = list[i][0];
    if (k.charCodeAt(0) !== 120 /* x */) {
      if (v < 0 && k === 'via') v = i;
      continue;
    }
    if (k === 'x-forwarded-for') { if (xff < 0) xff = i; }
    else if (k === 'x-forwarded-proto') hasProto = true;
    else if (k === 'x-forwarded-host') hasHost = true;
    else if (k === 'x-request-id') hasId = true;
  }
  if (xff >= 0) list[xff][1] = `${list[xff][1]}, ${clientIp}`;
  else list.push(['x-forwarded-for', clientIp]);
  if (!hasProto) list.push(['x-forwarded-proto', proto]);
  if (!hasHost) list.push(['x-forwarded-host', authority]);
  if (!hasId) list.push(['x-request-id', requestId]);
  if (settings.addXRealIp) setHeader(list, 'x-real-ip', clientIp);
  if (settings.via) {
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

/** A raw header piece as a latin1 string (every byte kept as it came); short ones, most values, are built in JS. */
function latin1(b: Buffer): string {
  return b.length < SHORT_LATIN1 ? shortLatin1(b, 0, b.length) : b.toString('latin1');
}

/** Headers in Node's object form (repeated ones as arrays) as a header list, in the object's order. */
export function headerListOf(h: Record<string, string | string[] | number | undefined>, out: HeaderList = []): HeaderList {
  for (const name in h) {
    const v = h[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push([name, x]);
    else out.push([name, String(v)]);
  }
  return out;
}

/** A flat `[name, value, ...]` list as a header list. */
export function pairList(flat: string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

/**
 * Response headers as undici's dispatcher hands them over, as a flat `[name, value, ...]` list
 * for `writeHead`: names lower-case, hop-by-hop headers removed.
 */
export function rawHeaderPairs(raw: Buffer[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    // undici's lookup returns a shared lower-case string for well-known names (no garbage).
    const name = undiciUtil.headerNameToString(raw[i]);
    if (!isHopByHop(name)) out.push(name, latin1(raw[i + 1]));
  }
  return out;
}

/** undici's raw response head as a header list with `:status` first (filtered as {@link rawHeaderPairs}). */
export function rawHeaderList(status: number, raw: Buffer[]): HeaderList {
  const out: HeaderList = [[':status', String(status)]];
  for (let i = 0; i < raw.length; i += 2) {
    // undici's lookup returns a shared lower-case string for well-known names (no garbage).
    const name = undiciUtil.headerNameToString(raw[i]);
    if (!isHopByHop(name)) out.push([name, latin1(raw[i + 1])]);
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
