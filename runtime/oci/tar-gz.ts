/**
 * The plugin archive: a reproducible tar.gz writer (fixed metadata, fixed gzip header) and a
 * safe tar reader that refuses absolute paths, `..`, links and special files.
 */
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { SizeLimitError, UnsafeArchiveError } from './errors.js';

const BLOCK = 512;

function writeOctal(buf: Buffer, offset: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}

/**
 * A ustar archive of regular files with fixed metadata (mode 0644, uid/gid 0, empty owner
 * names, mtime 0), in the given order, so the same inputs always give the same bytes.
 */
export function createTar(files: Array<{ name: string; data: Uint8Array }>): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    if (Buffer.byteLength(f.name) > 100) throw new UnsafeArchiveError(`tar entry name too long: ${f.name}`);
    const h = Buffer.alloc(BLOCK);
    h.write(f.name, 0, 100, 'utf8');
    writeOctal(h, 100, 8, 0o644);
    writeOctal(h, 108, 8, 0);
    writeOctal(h, 116, 8, 0);
    writeOctal(h, 124, 12, f.data.byteLength);
    writeOctal(h, 136, 12, 0);
    h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
    h.write('0', 156, 1, 'ascii');
    h.write('ustar\0' + '00', 257, 8, 'ascii');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += h[i];
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
    parts.push(h, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength));
    const pad = (BLOCK - (f.data.byteLength % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/**
 * gzip with a fixed header (mtime 0, OS byte 255 "unknown") and fixed level, so the output
 * depends only on the input and zlib's deflate.
 */
export function gzipReproducible(data: Uint8Array): Buffer {
  const out = gzipSync(data, { level: 9, memLevel: 9, strategy: constants.Z_DEFAULT_STRATEGY });
  out.writeUInt32LE(0, 4);
  out[8] = 2; // XFL: maximum compression
  out[9] = 255;
  return out;
}

/** A regular file read from a tar archive. */
export interface TarEntry {
  name: string;
  data: Buffer;
}

function readString(buf: Buffer, offset: number, width: number): string {
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 || end > offset + width ? offset + width : end);
}

function readOctal(buf: Buffer, offset: number, width: number): number {
  // GNU base-256 for large sizes: high bit of the first byte set.
  if (buf[offset] & 0x80) {
    let v = 0;
    for (let i = offset + 1; i < offset + width; i++) v = v * 256 + buf[i];
    return v;
  }
  const s = readString(buf, offset, width).trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.toString('ascii', i, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Throws unless `name` is a relative path without `..` (what extraction may write). */
export function checkEntryName(name: string): void {
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name) || name.startsWith('\\')) throw new UnsafeArchiveError(`archive entry "${name}" has an absolute path`);
  if (name.split(/[\\/]/).includes('..')) throw new UnsafeArchiveError(`archive entry "${name}" escapes the extraction folder with ".."`);
}

/**
 * Reads the regular files of a tar archive. Directories are skipped; links, devices, absolute
 * paths and `..` components throw {@link UnsafeArchiveError}. `maxBytes` bounds each file.
 */
export function readTar(tar: Buffer, maxBytes = Infinity): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  while (offset + BLOCK <= tar.length) {
    const h = tar.subarray(offset, offset + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    if (sum !== readOctal(h, 148, 8)) throw new UnsafeArchiveError(`tar header checksum mismatch at offset ${offset}: not a tar archive or corrupt`);
    const size = readOctal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) throw new UnsafeArchiveError('tar archive is truncated');
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = readString(tar, dataStart, size);
      continue;
    }
    if (type === 'x') {
      pax = parsePax(tar.subarray(dataStart, dataEnd));
      continue;
    }
    if (type === 'g') continue;
    const prefix = h.subarray(257, 263).toString('ascii') === 'ustar\0' ? readString(h, 345, 155) : '';
    let name = pax.path ?? longName ?? (prefix ? `${prefix}/${readString(h, 0, 100)}` : readString(h, 0, 100));
    longName = undefined;
    pax = {};
    checkEntryName(name);
    if (type === '1' || type === '2') throw new UnsafeArchiveError(`archive entry "${name}" is a ${type === '1' ? 'hard' : 'symbolic'} link; links are refused`);
    if (type === '5') continue;
    if (type !== '0' && type !== '7') throw new UnsafeArchiveError(`archive entry "${name}" is a special file (type ${type}); only regular files are extracted`);
    if (size > maxBytes) throw new SizeLimitError(`archive entry "${name}"`, maxBytes);
    name = name.replace(/^\.\//, '');
    entries.push({ name, data: tar.subarray(dataStart, dataEnd) });
  }
  return entries;
}

/** gunzip bounded by `maxBytes` of output. */
export function gunzipBounded(data: Uint8Array, maxBytes: number, what: string): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: Math.max(1, Math.min(maxBytes, 2 ** 32 - 1)) });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw new SizeLimitError(`${what} (uncompressed)`, maxBytes);
    throw new UnsafeArchiveError(`${what} is not valid gzip: ${(err as Error).message}`);
  }
}

/** True when `data` starts with the gzip magic. */
export function isGzip(data: Uint8Array): boolean {
  return data.length > 2 && data[0] === 0x1f && data[1] === 0x8b;
}
