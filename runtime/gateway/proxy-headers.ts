/**
 * Standard proxy header handling: hop-by-hop stripping (RFC 9110 §7.6.1, plus the names that
 * `Connection` lists), `x-forwarded-*`, `x-request-id`, `via`.
 */
import { util as undiciUtil } from 'undici';
import type { HeaderList } from '../host/types.js';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'http2-settings',
]);

/** True for a header a proxy must not forward. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
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
    const name = raw[i].toLowerCase();
    if (name.charCodeAt(0) === 58 /* : */) continue;
    if (name === 'host') continue;
    if (name === 'connection') connectionTokens = raw[i + 1].toLowerCase().split(',').map((s) => s.trim());
    if (HOP_BY_HOP.has(name)) {
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
    if (HOP_BY_HOP.has(name) || name.charCodeAt(0) === 58) continue;
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') out.push([name, v]);
    else for (const x of v) out.push([name, x]);
  }
  return out;
}

/**
 * Response headers as undici's dispatcher hands them over (alternating raw name and value
 * buffers) as a flat `[name, value, ...]` list for `writeHead`: names lower-case, hop-by-hop
 * headers removed. Latin-1 keeps every byte as it came.
 */
export function rawHeaderPairs(raw: Buffer[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    // undici's lookup returns a shared lower-case string for well-known names (no garbage).
    const name = undiciUtil.headerNameToString(raw[i]);
    if (HOP_BY_HOP.has(name)) continue;
    out.push(name, raw[i + 1].toString('latin1'));
  }
  return out;
}

/** A flat `[name, value, ...]` list as a header list with `:status` first. */
export function pairsToHeaderList(status: number, pairs: string[]): HeaderList {
  const out: HeaderList = [[':status', String(status)]];
  for (let i = 0; i < pairs.length; i += 2) out.push([pairs[i], pairs[i + 1]]);
  return out;
}

/** A header list as the flat `[name, value, ...]` form `writeHead` takes, pseudo-headers left out. */
export function outgoingPairs(list: HeaderList): string[] {
  const out: string[] = [];
  for (const [k, v] of list) if (k.charCodeAt(0) !== 58) out.push(k, v);
  return out;
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
