import ipaddr from 'ipaddr.js';

/**
 * allowedIps masks: a single IPv4/IPv6 address or `addr/len` with len 8..32 (IPv4) or 8..128 (IPv6),
 * as Stalwart accepts them. Output is canonical (lower-case, compressed IPv6); host bits stay as written.
 */
export function normalizeMask(text: string): string | undefined {
  const value = text.trim();
  if (value.length === 0 || value.length > 64) return undefined;
  const slash = value.indexOf('/');
  const addrText = slash < 0 ? value : value.slice(0, slash);
  // A zone id (fe80::1%eth0) means nothing to a peer's address and would give one mask several spellings.
  if (addrText.includes('%')) return undefined;
  if (!ipaddr.isValid(addrText) || !(ipaddr.IPv4.isValidFourPartDecimal(addrText) || ipaddr.IPv6.isValid(addrText))) return undefined;
  const addr = ipaddr.parse(addrText);
  if (addr.kind() === 'ipv4' && addr.toString() === '0.0.0.0') return undefined;
  if (slash < 0) return addr.toString();
  const lenText = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  const maxLen = addr.kind() === 'ipv4' ? 32 : 128;
  if (len < 8 || len > maxLen) return undefined;
  return `${addr.toString()}/${len}`;
}

/** Parses a peer address, unwrapping IPv4-mapped IPv6 (::ffff:1.2.3.4) so IPv4 masks match it. */
export function parseClientAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  try {
    return ipaddr.process(text.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  } catch {
    return undefined;
  }
}

/**
 * True when the list is empty (no restriction) or the address matches any mask.
 * An IPv6 mask is matched in IPv6 terms, an IPv4 client as its IPv4-mapped address (::ffff:10.0.0.0/104 is 10.0.0.0/8).
 */
export function ipAllowed(masks: readonly string[], client: string | undefined): boolean {
  if (masks.length === 0) return true;
  const addr = client === undefined ? undefined : parseClientAddress(client);
  if (!addr) return false;
  return masks.some((mask) => {
    const [maskAddrText, lenText] = mask.split('/') as [string, string | undefined];
    const maskAddr = ipaddr.parse(maskAddrText);
    const len = lenText === undefined ? (maskAddr.kind() === 'ipv4' ? 32 : 128) : Number(lenText);
    if (maskAddr.kind() === 'ipv6' && addr.kind() === 'ipv4') return (addr as ipaddr.IPv4).toIPv4MappedAddress().match(maskAddr, len);
    return maskAddr.kind() === addr.kind() && addr.match(maskAddr, len);
  });
}

/** Whether every address `mask` covers is covered by one of `outer` (same family, equal or longer prefix). */
export function maskWithin(mask: string, outer: readonly string[]): boolean {
  const [addrText, lenText] = mask.split('/') as [string, string | undefined];
  const addr = ipaddr.process(addrText);
  const len = lenText === undefined ? (addr.kind() === 'ipv4' ? 32 : 128) : Number(lenText);
  return outer.some((o) => {
    const [oText, oLenText] = o.split('/') as [string, string | undefined];
    const oAddr = ipaddr.process(oText);
    if (oAddr.kind() !== addr.kind()) return false;
    const oLen = oLenText === undefined ? (oAddr.kind() === 'ipv4' ? 32 : 128) : Number(oLenText);
    return len >= oLen && addr.match(oAddr, oLen);
  });
}
