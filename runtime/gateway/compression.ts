/**
 * Response compression as Envoy's compressor filter does it for Higress's global `gzip` setting
 * (on by default there): after the plugins' response callbacks, a response of an allowed
 * content type, big enough, not already encoded, to a client that accepts gzip, goes out
 * gzip-compressed.
 */
import zlib from 'node:zlib';
import type { HeaderList } from '../host/types.js';
import type { ModelGzip } from './config-model.js';
import { findHeader, removeHeader } from './proxy-headers.js';

const Q = /^\s*q\s*=\s*([0-9.]+)\s*$/i;

/**
 * True when an `accept-encoding` value allows gzip, by Envoy's rules: `gzip` or `*` with a weight
 * above 0, gzip's own weight winning over `*` (`gzip;q=0, *` does not allow it).
 */
export function acceptsGzip(acceptEncoding: string): boolean {
  let gzip = -1;
  let star = -1;
  for (const part of acceptEncoding.split(',')) {
    const params = part.split(';');
    const coding = params[0].trim().toLowerCase();
    if (coding !== 'gzip' && coding !== '*') continue;
    let q = 1;
    for (let i = 1; i < params.length; i++) {
      const m = Q.exec(params[i]);
      if (m) q = Number(m[1]);
    }
    if (coding === 'gzip') gzip = q;
    else star = q;
  }
  return gzip >= 0 ? gzip > 0 : star > 0;
}

/**
 * Decides whether a response (headers as the plugins left them) is compressed for a client that
 * accepts gzip, and if so rewrites its headers for it: `content-encoding: gzip`, no
 * `content-length`, `vary: accept-encoding`, a strong ETag dropped. Skipped, as by Envoy: an
 * encoded response, `cache-control: no-transform`, a content type not in the list, a known
 * length below the minimum, an ETag when `disableOnEtag`.
 */
export function compressResponse(headers: HeaderList, gz: ModelGzip): boolean {
  const get = (name: string): string | undefined => {
    const i = findHeader(headers, name);
    return i < 0 ? undefined : headers[i][1];
  };
  if (get('content-encoding') !== undefined) return false;
  if (/no-transform/i.test(get('cache-control') ?? '')) return false;
  const type = get('content-type');
  if (type === undefined || !gz.contentTypes.includes(type.split(';')[0].trim().toLowerCase())) return false;
  const length = get('content-length');
  if (length !== undefined && Number(length) < gz.minContentLength) return false;
  const etag = get('etag');
  if (etag !== undefined && gz.disableOnEtag) return false;
  if (etag !== undefined && !etag.startsWith('W/')) removeHeader(headers, 'etag');
  removeHeader(headers, 'content-length');
  headers.push(['content-encoding', 'gzip']);
  const vary = findHeader(headers, 'vary');
  if (vary < 0) headers.push(['vary', 'Accept-Encoding']);
  else if (!/accept-encoding|\*/i.test(headers[vary][1])) headers[vary][1] += ', Accept-Encoding';
  return true;
}

const zlibOptions = (gz: ModelGzip): zlib.ZlibOptions => ({ level: gz.level, memLevel: gz.memLevel, windowBits: gz.windowBits, chunkSize: gz.chunkSize, strategy: gz.strategy });

/** A gzip stream with the setting's zlib parameters. */
export function gzipStream(gz: ModelGzip): zlib.Gzip {
  return zlib.createGzip(zlibOptions(gz));
}

/** A whole body (a plugin's local response) compressed at once. */
export function gzipBytes(body: Uint8Array, gz: ModelGzip): Uint8Array {
  return zlib.gzipSync(body, zlibOptions(gz));
}
