// Base64 (RFC 4648, standard alphabet) for Authorization headers and tokens.

// (Literals live inside functions: a module-level string constant would be linked into every
// plugin that imports the SDK, used or not.)

function value(c: i32): i32 {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c == 0x2b || c == 0x2d) return 62; // '+' (and URL-safe '-')
  if (c == 0x2f || c == 0x5f) return 63; // '/' (and URL-safe '_')
  return -1;
}

/** Decodes base64 text (padding optional, URL-safe letters accepted) to bytes; null when malformed. */
export function base64Decode(text: string): ArrayBuffer | null {
  let n = text.length;
  while (n > 0 && text.charCodeAt(n - 1) == 0x3d) n--;
  if (n % 4 == 1) return null;
  const out = new ArrayBuffer((n * 3) >> 2);
  const p = changetype<usize>(out);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const v = value(text.charCodeAt(i));
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      store<u8>(p + o++, <u8>(acc >> bits));
    }
  }
  return out;
}

/** Decodes base64 to UTF-8 text; null when malformed. */
export function base64DecodeString(text: string): string | null {
  const b = base64Decode(text);
  return b === null ? null : String.UTF8.decode(b);
}

/** Encodes bytes as padded base64. */
export function base64Encode(data: ArrayBuffer): string {
  const p = changetype<usize>(data);
  const n = data.byteLength;
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let out = "";
  for (let i = 0; i < n; i += 3) {
    const b0 = <i32>load<u8>(p + i);
    const b1 = i + 1 < n ? <i32>load<u8>(p + i + 1) : 0;
    const b2 = i + 2 < n ? <i32>load<u8>(p + i + 2) : 0;
    out += ALPHABET.charAt(b0 >> 2) + ALPHABET.charAt(((b0 & 3) << 4) | (b1 >> 4));
    out += i + 1 < n ? ALPHABET.charAt(((b1 & 15) << 2) | (b2 >> 6)) : "=";
    out += i + 2 < n ? ALPHABET.charAt(b2 & 63) : "=";
  }
  return out;
}

/** Encodes UTF-8 text as padded base64. */
export function base64EncodeString(text: string): string {
  return base64Encode(String.UTF8.encode(text, false));
}
