/**
 * Minimal wasm binary surgery: give a module's own memory a maximum size, so a plugin that grows
 * memory without bound sees `memory.grow` fail (and traps on its own OOM) instead of taking the
 * whole process with it. Only the memory section is rewritten; everything else is copied.
 */

const PAGE = 65536;

function readLeb(b: Uint8Array, pos: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined) throw new Error('truncated LEB128');
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7;
    if (shift > 35) throw new Error('LEB128 too long');
  }
}

function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/**
 * Returns `bytes` with the (single, non-shared, 32-bit) defined memory's maximum lowered to
 * `maxBytes` (rounded up to pages). Returns the input unchanged when the module defines no memory,
 * already has a smaller maximum, or uses a memory form this does not rewrite (shared, memory64).
 */
export function capMemory(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const maxPages = Math.min(65536, Math.max(1, Math.ceil(maxBytes / PAGE)));
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos]!;
    const [size, contentStart] = readLeb(bytes, pos + 1);
    const contentEnd = contentStart + size;
    if (id === 5) {
      let p = contentStart;
      const [count, afterCount] = readLeb(bytes, p);
      p = afterCount;
      if (count !== 1) return bytes;
      const flags = bytes[p]!;
      if (flags !== 0 && flags !== 1) return bytes;
      const [min, afterMin] = readLeb(bytes, p + 1);
      let oldMax = Infinity;
      if (flags === 1) oldMax = readLeb(bytes, afterMin)[0];
      if (oldMax <= maxPages) return bytes;
      const newMax = Math.max(min, maxPages);
      const content = [...leb(1), 1, ...leb(min), ...leb(newMax)];
      const section = [5, ...leb(content.length), ...content];
      const out = new Uint8Array(pos + section.length + (bytes.length - contentEnd));
      out.set(bytes.subarray(0, pos), 0);
      out.set(section, pos);
      out.set(bytes.subarray(contentEnd), pos + section.length);
      return out;
    }
    pos = contentEnd;
  }
  return bytes;
}
