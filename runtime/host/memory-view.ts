/**
 * Bounds-checked access to a plugin's linear memory. Views are cached and refreshed only when
 * `memory.buffer` changes (memory.grow detaches the old buffer). Every pointer from the plugin
 * goes through {@link MemoryView.ok} first; host functions turn a false into INVALID_MEMORY_ACCESS.
 */
import { BadAllocatorSignal } from './errors.js';
import { lowerAscii } from './header-codec.js';
import type { WasmMemory } from './wasm-api.js';

const utf8Decoder = new TextDecoder('utf-8');
/** Strings shorter than this are latin1-decoded in JS ({@link shortLatin1}); longer ones by Buffer's native code. */
export const SHORT_LATIN1 = 8;

/**
 * Bytes [p, p+len) of `u` as a latin1 string (one char per byte), len < {@link SHORT_LATIN1}:
 * one `String.fromCharCode` call, cheaper than a native decode at these lengths, and unlike a
 * concatenation loop it leaves no intermediate strings.
 */
export function shortLatin1(u: Uint8Array, p: number, len: number): string {
  switch (len) {
    case 0: return '';
    case 1: return String.fromCharCode(u[p]!);
    case 2: return String.fromCharCode(u[p]!, u[p + 1]!);
    case 3: return String.fromCharCode(u[p]!, u[p + 1]!, u[p + 2]!);
    case 4: return String.fromCharCode(u[p]!, u[p + 1]!, u[p + 2]!, u[p + 3]!);
    case 5: return String.fromCharCode(u[p]!, u[p + 1]!, u[p + 2]!, u[p + 3]!, u[p + 4]!);
    case 6: return String.fromCharCode(u[p]!, u[p + 1]!, u[p + 2]!, u[p + 3]!, u[p + 4]!, u[p + 5]!);
    default: return String.fromCharCode(u[p]!, u[p + 1]!, u[p + 2]!, u[p + 3]!, u[p + 4]!, u[p + 5]!, u[p + 6]!);
  }
}
/**
 * Header names lately decoded from plugin memory, lower-case, by a hash of their bytes (shared
 * by every VM). Plugins pass the same few names on every stream: handing back one string per
 * name saves the decode, and a string V8 has seen as a property key before is looked up faster
 * further on (undici, Node's header checks).
 */
const NAMES = new Array<string>(256).fill('');
/** Longer names are decoded each time. */
const NAME_CACHE_MAX = 64;

/** Strings this long or longer are written into memory by Buffer's native code; shorter ones by a JS loop (cheaper below it). */
const LONG_WRITE = 32;
const utf8Encoder = new TextEncoder();

/** Shared encoder/decoder helpers (one instance each per process). */
export const utf8 = {
  encode(s: string): Uint8Array { return utf8Encoder.encode(s); },
  decode(b: Uint8Array): string { return utf8Decoder.decode(b); },
};


/** A plugin's memory plus its allocator. */
export class MemoryView {
  u8: Uint8Array;
  dv: DataView;
  private buf: ArrayBuffer;
  /** A Buffer over the same memory, for its native latin1 encode/decode of longer strings. */
  private nb: Buffer;
  private alloc: ((size: number) => number) | undefined;

  constructor(readonly memory: WasmMemory) {
    this.buf = memory.buffer as ArrayBuffer;
    this.u8 = new Uint8Array(this.buf);
    this.dv = new DataView(this.buf);
    this.nb = Buffer.from(this.buf);
  }

  /** Sets the plugin export used to allocate memory for data returned to the plugin. */
  setAllocator(fn: ((size: number) => number) | undefined): void { this.alloc = fn; }

  /**
   * Refreshes the cached views if memory grew. memory.grow detaches the old buffer, so a
   * zero-length view means "stale": this avoids the comparatively slow `memory.buffer` getter on
   * every host call.
   */
  refresh(): void {
    if (this.u8.length === 0) {
      this.buf = this.memory.buffer as ArrayBuffer;
      this.u8 = new Uint8Array(this.buf);
      this.dv = new DataView(this.buf);
      this.nb = Buffer.from(this.buf);
    }
  }

  /** Index of the first pair in `list` whose name equals the bytes at [ptr, ptr+len)
   * (ASCII case-insensitive; names in lists are lower-case), or -1. Bounds already checked. */
  findName(list: Array<[string, string]>, ptr: number, len: number): number {
    for (let i = 0, n = list.length; i < n; i++) if (this.isName(list[i]![0], ptr, len)) return i;
    return -1;
  }

  /** True when the lower-case `name` equals the bytes at [ptr, ptr+len), ASCII case-insensitive. */
  private isName(name: string, ptr: number, len: number): boolean {
    if (name.length !== len) return false;
    const u8 = this.u8;
    for (let j = 0; j < len; j++) {
      let c = u8[ptr + j]!;
      if (c >= 65 && c <= 90) c += 32;
      if (name.charCodeAt(j) !== c) return false;
    }
    return true;
  }

  /** The header name at [ptr, ptr+len), latin1 and lower-case: the same string as last time for a name seen lately. Caller checked bounds. */
  headerName(ptr: number, len: number): string {
    if (len > NAME_CACHE_MAX) return lowerAscii(this.latin1(ptr, len));
    const u8 = this.u8;
    let h = len;
    for (let i = 0; i < len; i++) h = (Math.imul(h, 31) + (u8[ptr + i]! | 0x20)) | 0;
    const slot = h & 255;
    const seen = NAMES[slot]!;
    if (this.isName(seen, ptr, len)) return seen;
    const name = lowerAscii(this.latin1(ptr, len));
    NAMES[slot] = name;
    return name;
  }

  /** Current memory size in bytes. */
  get byteLength(): number { return this.memory.buffer.byteLength; }

  /** True when [ptr, ptr+len) lies inside memory (after refreshing the views). */
  ok(ptr: number, len: number): boolean {
    this.refresh();
    return ptr >= 0 && len >= 0 && ptr + len <= this.u8.length;
  }

  /** Allocates `size` bytes in the plugin (size > 0). Throws {@link BadAllocatorSignal} (a VM
   * failure) when the allocator is missing or returns a pointer outside memory. */
  malloc(size: number): number {
    const fn = this.alloc;
    if (!fn) throw new BadAllocatorSignal(0, size, this.memory.buffer.byteLength);
    const ptr = fn(size) >>> 0;
    this.refresh();
    if (ptr === 0 || ptr + size > this.u8.length) throw new BadAllocatorSignal(ptr, size, this.u8.length);
    return ptr;
  }

  /** Little-endian u32 at ptr (bounds checked by the caller). */
  u32(ptr: number): number { return this.dv.getUint32(ptr, true); }
  /** Stores a little-endian u32 (bounds checked by the caller). */
  setU32(ptr: number, v: number): void { this.dv.setUint32(ptr, v, true); }
  /** Stores a little-endian u64 (bounds checked by the caller). */
  setU64(ptr: number, v: bigint): void { this.dv.setBigUint64(ptr, v, true); }

  /** Decodes [ptr, ptr+len) as latin1 (header names/values: one char per byte): short ones in JS, longer natively. Caller checked bounds. */
  latin1(ptr: number, len: number): string {
    return len < SHORT_LATIN1 ? shortLatin1(this.u8, ptr, len) : this.nb.toString('latin1', ptr, ptr + len);
  }

  /** Decodes [ptr, ptr+len) as UTF-8. Caller checked bounds. */
  utf8(ptr: number, len: number): string {
    return utf8Decoder.decode(this.u8.subarray(ptr, ptr + len));
  }

  /** Copy of [ptr, ptr+len). Caller checked bounds. */
  bytes(ptr: number, len: number): Uint8Array { return this.u8.slice(ptr, ptr + len); }

  /** Writes latin1 `s` at `ptr` (caller checked room). Returns bytes written. */
  writeLatin1(ptr: number, s: string): number {
    const n = s.length;
    if (n >= LONG_WRITE) return this.nb.write(s, ptr, n, 'latin1');
    const u8 = this.u8;
    for (let i = 0; i < n; i++) u8[ptr + i] = s.charCodeAt(i);
    return n;
  }

  /**
   * Allocates a copy of `data` in the plugin and stores its pointer/size at `ptrPtr`/`sizePtr`
   * (both already bounds-checked). Empty data stores 0/0 without allocating.
   */
  returnBytes(data: Uint8Array, ptrPtr: number, sizePtr: number): void {
    const n = data.length;
    if (n === 0) {
      this.dv.setUint32(ptrPtr, 0, true);
      this.dv.setUint32(sizePtr, 0, true);
      return;
    }
    const p = this.malloc(n);
    this.u8.set(data, p);
    this.dv.setUint32(ptrPtr, p, true);
    this.dv.setUint32(sizePtr, n, true);
  }

  /** Like {@link returnBytes} for a latin1 string (no intermediate buffer). */
  returnLatin1(s: string, ptrPtr: number, sizePtr: number): void {
    const n = s.length;
    let p = 0;
    if (n !== 0) {
      p = this.malloc(n);
      this.writeLatin1(p, s);
    }
    const dv = this.dv;
    dv.setUint32(ptrPtr, p, true);
    dv.setUint32(sizePtr, n, true);
  }
}
