/**
 * Client address ranges (Ingress `whitelist-source-range`): single addresses or CIDR ranges,
 * IPv4 and IPv6, checked with Node's BlockList.
 */
import { BlockList, isIP } from 'node:net';

/** `address` or `address/prefix` split and checked; undefined when it is neither. */
export function parseCidr(s: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = s.indexOf('/');
  const address = slash < 0 ? s : s.slice(0, slash);
  const version = isIP(address);
  if (!version) return undefined;
  const max = version === 4 ? 32 : 128;
  const bits = slash < 0 ? String(max) : s.slice(slash + 1);
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A test for client addresses in `ranges` (each valid for {@link parseCidr}). An IPv4-mapped IPv6 address is tested as IPv4. */
export function addressMatcher(ranges: string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const r of ranges) {
    const c = parseCidr(r)!;
    list.addSubnet(c.address, c.prefix, c.family);
  }
  return (address) => {
    const a = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const version = isIP(a);
    return version !== 0 && list.check(a, version === 4 ? 'ipv4' : 'ipv6');
  };
}
