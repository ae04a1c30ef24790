/**
 * The proxy-wasm header-map encoding (REFERENCE §1 "Encodings"): u32 pair count N, N × (u32
 * key_len, u32 value_len), then `key \0 value \0` per pair, little-endian. Header strings are
 * byte strings (latin1: one char per byte), which is how Node's HTTP stack hands them over.
 */
import type { HeaderList } from './types.js';
import type { MemoryView } from './memory-view.js';

/** `s` lower-cased, without a copy when it has no upper-case ASCII letter (header names usually have none). */
export function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.toLowerCase();
  }
  return s;
}

/** Encoded size of `list` in bytes (0 for an empty map, as hosts return). */
export function encodedSize(list: HeaderList): number {
  const n = list.length;
  if (n === 0) return 0;
  let size = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const p = list[i]!;
    size += p[0].length + p[1].length + 2;
  }
  return size;
}

/** Writes `list` encoded at `ptr` (room for {@link encodedSize} bytes already checked). */
export function encodeInto(mem: MemoryView, ptr: number, list: HeaderList): void {
  const dv = mem.dv;
  const u8 = mem.u8;
  const n = list.length;
  dv.setUint32(ptr, n, true);
  let lens = ptr + 4;
  let data = ptr + 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const p = list[i]!;
    const k = p[0];
    const v = p[1];
    dv.setUint32(lens, k.length, true);
    dv.setUint32(lens + 4, v.length, true);
    lens += 8;
    for (let j = 0; j < k.length; j++) u8[data++] = k.charCodeAt(j);
    u8[data++] = 0;
    for (let j = 0; j < v.length; j++) u8[data++] = v.charCodeAt(j);
    u8[data++] = 0;
  }
}

/** Encodes `list` into a fresh byte array (for tests and the emulator). */
export function encodeHeaders(list: HeaderList): Uint8Array {
  const n = list.length;
  if (n === 0) return new Uint8Array(0);
  const out = new Uint8Array(encodedSize(list));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true);
  let lens = 4;
  let data = 4 + n * 8;
  for (const [k, v] of list) {
    dv.setUint32(lens, k.length, true);
    dv.setUint32(lens + 4, v.length, true);
    lens += 8;
    for (let j = 0; j < k.length; j++) out[data++] = k.charCodeAt(j);
    out[data++] = 0;
    for (let j = 0; j < v.length; j++) out[data++] = v.charCodeAt(j);
    out[data++] = 0;
  }
  return out;
}

/**
 * Decodes an encoded map at [ptr, ptr+size) of plugin memory (bounds of the region already
 * checked). Returns undefined when the encoding is malformed (lengths run past the region).
 * Size 0 is an empty map.
 */
export function decodeFrom(mem: MemoryView, ptr: number, size: number): HeaderList | undefined {
  if (size === 0) return [];
  if (size < 4) return undefined;
  const dv = mem.dv;
  const n = dv.getUint32(ptr, true);
  const end = ptr + size;
  let lens = ptr + 4;
  let data = lens + n * 8;
  if (n > size || data > end) return undefined;
  const out: HeaderList = new Array(n);
  for (let i = 0; i < n; i++) {
    const kl = dv.getUint32(lens, true);
    const vl = dv.getUint32(lens + 4, true);
    lens += 8;
    if (data + kl + vl + 2 > end) return undefined;
    const k = mem.latin1(data, kl);
    data += kl + 1;
    const v = mem.latin1(data, vl);
    data += vl + 1;
    out[i] = [k, v];
  }
  return out;
}
