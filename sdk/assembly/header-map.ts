// The proxy-wasm header-map encoding (REFERENCE §1): u32 count, count × (u32 name_len,
// u32 value_len), then `name \0 value \0` per pair, all little-endian.
import { Header } from "./types";
import { decode, encode } from "./utf8";

/** Decodes a header map the host wrote at `ptr` (size bytes). */
export function decodeHeaderMap(ptr: usize, size: usize): Array<Header> {
  if (size < 4) return new Array<Header>();
  const n = <i32>load<u32>(ptr);
  const out = new Array<Header>(n);
  let lens = ptr + 4;
  let data = lens + (<usize>n << 3);
  const end = ptr + size;
  for (let i = 0; i < n; i++) {
    const kl = <usize>load<u32>(lens);
    const vl = <usize>load<u32>(lens + 4);
    lens += 8;
    if (data + kl + vl + 2 > end) { out.length = i; break; }
    const k = decode(data, kl);
    data += kl + 1;
    const v = decode(data, vl);
    data += vl + 1;
    unchecked(out[i] = new Header(k, v));
  }
  return out;
}

/** Encodes pairs into the header-map layout; an empty list is an empty buffer. */
export function encodeHeaderMap(pairs: Array<Header>): ArrayBuffer {
  const n = pairs.length;
  if (n == 0) return new ArrayBuffer(0);
  let size: usize = 4 + (<usize>n << 3);
  for (let i = 0; i < n; i++) {
    const h = unchecked(pairs[i]);
    size += <usize>String.UTF8.byteLength(h.name) + <usize>String.UTF8.byteLength(h.value) + 2;
  }
  const buf = new ArrayBuffer(<i32>size);
  const base = changetype<usize>(buf);
  store<u32>(base, n);
  let lens = base + 4;
  let data = lens + (<usize>n << 3);
  for (let i = 0; i < n; i++) {
    const h = unchecked(pairs[i]);
    const kl = encode(changetype<usize>(h.name), h.name.length, data);
    store<u8>(data + kl, 0);
    data += kl + 1;
    const vl = encode(changetype<usize>(h.value), h.value.length, data);
    store<u8>(data + vl, 0);
    data += vl + 1;
    store<u32>(lens, <u32>kl);
    store<u32>(lens + 4, <u32>vl);
    lens += 8;
  }
  return buf;
}
