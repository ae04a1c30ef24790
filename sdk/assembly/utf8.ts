// UTF-8 to and from AssemblyScript strings for host calls, with a fast path for ASCII, which is
// nearly every header name and value.

/**
 * `size` UTF-8 bytes at `ptr` as a string. ASCII (nearly every header) is widened straight into
 * a string of its length; the stdlib decoder allocates for the worst case and then shrinks.
 */
export function decode(ptr: usize, size: usize): string {
  const out = __new(size << 1, idof<String>());
  for (let i: usize = 0; i < size; i++) {
    const b = load<u8>(ptr + i);
    if (b >= 0x80) return String.UTF8.decodeUnsafe(ptr, size);
    store<u16>(out + (i << 1), b);
  }
  return changetype<string>(out);
}

/** `n` UTF-16 units at `src` as UTF-8 at `dst`; returns the byte length. ASCII is copied a byte a unit. */
export function encode(src: usize, n: usize, dst: usize): usize {
  for (let i: usize = 0; i < n; i++) {
    const c = load<u16>(src + (i << 1));
    if (c >= 0x80) return String.UTF8.encodeUnsafe(src, <i32>n, dst);
    store<u8>(dst + i, <u8>c);
  }
  return n;
}
