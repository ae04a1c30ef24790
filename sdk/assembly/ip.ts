// IP addresses and CIDR ranges, IPv4 and IPv6, as 16-byte values (IPv4 as ::ffff:a.b.c.d so
// both families share one comparison).

/** An address or a network: 16 bytes plus a prefix length (128 for a single address). */
export class IpRange {
  constructor(public bytes: StaticArray<u8>, public prefix: i32) {}

  /** True when `ip` (a parsed address) falls inside this range. */
  contains(ip: StaticArray<u8>): bool {
    let bits = this.prefix;
    for (let i = 0; i < 16 && bits > 0; i++) {
      const mask: i32 = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((<i32>ip[i] & mask) != (<i32>this.bytes[i] & mask)) return false;
      bits -= 8;
    }
    return true;
  }
}

function parseV4(s: string, out: StaticArray<u8>, at: i32): bool {
  const parts = s.split(".");
  if (parts.length != 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (p.length == 0 || p.length > 3) return false;
    let v = 0;
    for (let k = 0; k < p.length; k++) {
      const c = p.charCodeAt(k);
      if (c < 0x30 || c > 0x39) return false;
      v = v * 10 + (c - 0x30);
    }
    if (v > 255) return false;
    out[at + i] = <u8>v;
  }
  return true;
}

function hexGroup(g: string): i32 {
  if (g.length == 0 || g.length > 4) return -1;
  let v = 0;
  for (let i = 0; i < g.length; i++) {
    const c = g.charCodeAt(i);
    let d = -1;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x57;
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

/**
 * Parses an IP address (`10.0.0.1`, `2001:db8::1`, `::ffff:1.2.3.4`, `[::1]`; a zone `%eth0` is
 * dropped) into 16 bytes; null when it is not an address.
 */
export function parseIp(text: string): StaticArray<u8> | null {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.substring(1, s.length - 1);
  const zone = s.indexOf("%", 0);
  if (zone >= 0) s = s.substring(0, zone);
  const out = new StaticArray<u8>(16);
  if (s.indexOf(":", 0) < 0) {
    out[10] = 0xff;
    out[11] = 0xff;
    return parseV4(s, out, 12) ? out : null;
  }
  // IPv6: up to 8 groups, one "::" run of zeros, optional dotted IPv4 tail.
  const dbl = s.indexOf("::", 0);
  if (dbl >= 0 && s.indexOf("::", dbl + 1) >= 0) return null;
  const head = dbl >= 0 ? s.substring(0, dbl) : s;
  const tail = dbl >= 0 ? s.substring(dbl + 2, s.length) : "";
  const groups = new Array<i32>();
  const tailGroups = new Array<i32>();
  for (let pass = 0; pass < 2; pass++) {
    const part = pass == 0 ? head : tail;
    const into = pass == 0 ? groups : tailGroups;
    if (part.length == 0) continue;
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.indexOf(".", 0) >= 0 && i == items.length - 1 && (pass == 1 || dbl < 0)) {
        const v4 = new StaticArray<u8>(16);
        if (!parseV4(it, v4, 12)) return null;
        into.push((<i32>v4[12] << 8) | v4[13]);
        into.push((<i32>v4[14] << 8) | v4[15]);
        continue;
      }
      const g = hexGroup(it);
      if (g < 0) return null;
      into.push(g);
    }
  }
  const total = groups.length + tailGroups.length;
  if (dbl < 0 ? total != 8 : total > 7) return null;
  for (let i = 0; i < groups.length; i++) { out[i * 2] = <u8>(groups[i] >> 8); out[i * 2 + 1] = <u8>groups[i]; }
  const start = 8 - tailGroups.length;
  for (let i = 0; i < tailGroups.length; i++) { out[(start + i) * 2] = <u8>(tailGroups[i] >> 8); out[(start + i) * 2 + 1] = <u8>tailGroups[i]; }
  return out;
}

/** Parses `addr` or `addr/prefix` (IPv4 prefix 0–32, IPv6 0–128); null when malformed. */
export function parseCidr(text: string): IpRange | null {
  const slash = text.indexOf("/", 0);
  const ip = parseIp(slash < 0 ? text : text.substring(0, slash));
  if (ip === null) return null;
  const v4 = text.indexOf(":", 0) < 0;
  if (slash < 0) return new IpRange(ip, 128);
  const p = text.substring(slash + 1, text.length);
  if (p.length == 0 || p.length > 3) return null;
  let n = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    n = n * 10 + (c - 0x30);
  }
  if (n > (v4 ? 32 : 128)) return null;
  return new IpRange(ip, v4 ? n + 96 : n);
}

/**
 * The client IP out of a `source.address` property or an `X-Forwarded-For`-style header:
 * first list entry, port and brackets removed (`1.2.3.4:5678` → `1.2.3.4`, `[::1]:80` → `::1`).
 */
export function hostOfAddress(address: string): string {
  let s = address;
  const comma = s.indexOf(",", 0);
  if (comma >= 0) s = s.substring(0, comma);
  s = s.trim();
  if (s.startsWith("[")) {
    const end = s.indexOf("]", 0);
    return end < 0 ? s : s.substring(1, end);
  }
  const colon = s.indexOf(":", 0);
  if (colon >= 0 && s.indexOf(":", colon + 1) < 0) return s.substring(0, colon); // v4:port
  return s;
}
