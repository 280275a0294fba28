import { describe, expect, it } from 'vitest';
import { ipAllowed, normalizeMask, parseClientAddress } from '../../src/auth/ipmask.js';

describe('normalizeMask', () => {
  it('accepts single addresses and CIDR masks in canonical form', () => {
    expect(normalizeMask('10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeMask(' 10.0.0.0/8 ')).toBe('10.0.0.0/8');
    expect(normalizeMask('192.0.2.0/32')).toBe('192.0.2.0/32');
    expect(normalizeMask('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(normalizeMask('2001:db8::/32')).toBe('2001:db8::/32');
    expect(normalizeMask('2001:db8::/128')).toBe('2001:db8::/128');
    expect(normalizeMask('10.0.0.0/08')).toBe('10.0.0.0/8');
  });

  it('keeps host bits as written', () => {
    expect(normalizeMask('10.1.2.3/8')).toBe('10.1.2.3/8');
  });

  it('refuses prefix lengths outside 8..32 (IPv4) and 8..128 (IPv6)', () => {
    for (const m of ['10.0.0.0/7', '10.0.0.0/33', '10.0.0.0/0', '::/7', '2001:db8::/129', '10.0.0.0/', '10.0.0.0/1000', '10.0.0.0/-8', '10.0.0.0/8/8', '10.0.0.0/ 8']) {
      expect(normalizeMask(m), m).toBeUndefined();
    }
  });

  it('refuses the IPv4 unspecified address with or without a length', () => {
    expect(normalizeMask('0.0.0.0')).toBeUndefined();
    expect(normalizeMask('0.0.0.0/8')).toBeUndefined();
  });

  it('refuses IPv4 shorthands, octal and hex forms (only four-part decimal)', () => {
    for (const m of ['10.1', '10', '167772161', '010.0.0.1', '0x0a.0.0.1', '10.0.0.256', '10.0.0.1.']) expect(normalizeMask(m), m).toBeUndefined();
  });

  it('refuses garbage, empty and overlong text', () => {
    for (const m of ['', '   ', 'localhost', '10.0.0.1 10.0.0.2', `${'1'.repeat(65)}`, 'fe80::1%eth0', '[::1]']) expect(normalizeMask(m), m).toBeUndefined();
  });
});

describe('parseClientAddress', () => {
  it('parses IPv4 and IPv6, stripping brackets and zone ids', () => {
    expect(parseClientAddress('192.0.2.1')?.toString()).toBe('192.0.2.1');
    expect(parseClientAddress('[2001:db8::1]')?.toString()).toBe('2001:db8::1');
    expect(parseClientAddress('fe80::1%eth0')?.toString()).toBe('fe80::1');
  });

  it('unwraps IPv4-mapped IPv6', () => {
    const addr = parseClientAddress('::ffff:192.0.2.1');
    expect(addr?.kind()).toBe('ipv4');
    expect(addr?.toString()).toBe('192.0.2.1');
  });

  it('returns undefined for what is not an address', () => {
    for (const c of ['', 'localhost', '192.0.2.1:8080', 'unknown']) expect(parseClientAddress(c), c).toBeUndefined();
  });
});

describe('ipAllowed', () => {
  it('an empty list allows every client, even an unknown one', () => {
    expect(ipAllowed([], '192.0.2.1')).toBe(true);
    expect(ipAllowed([], undefined)).toBe(true);
  });

  it('a restricted credential refuses a client whose address is unknown or unparsable', () => {
    expect(ipAllowed(['10.0.0.0/8'], undefined)).toBe(false);
    expect(ipAllowed(['10.0.0.0/8'], 'garbage')).toBe(false);
  });

  it('matches single addresses and CIDR ranges of the same family', () => {
    expect(ipAllowed(['10.0.0.1'], '10.0.0.1')).toBe(true);
    expect(ipAllowed(['10.0.0.1'], '10.0.0.2')).toBe(false);
    expect(ipAllowed(['10.0.0.0/8'], '10.255.1.2')).toBe(true);
    expect(ipAllowed(['10.0.0.0/8'], '11.0.0.1')).toBe(false);
    expect(ipAllowed(['10.1.2.3/8'], '10.9.9.9')).toBe(true);
    expect(ipAllowed(['2001:db8::/64'], '2001:db8::abcd')).toBe(true);
    expect(ipAllowed(['2001:db8::/64'], '2001:db8:0:1::1')).toBe(false);
    expect(ipAllowed(['192.0.2.1', '2001:db8::/64'], '2001:db8::5')).toBe(true);
  });

  it('never matches across families', () => {
    expect(ipAllowed(['10.0.0.0/8'], '2001:db8::1')).toBe(false);
    expect(ipAllowed(['2001:db8::/32'], '10.0.0.1')).toBe(false);
  });

  it('an IPv4 mask matches the same client seen as IPv4-mapped IPv6 (dual-stack socket)', () => {
    expect(ipAllowed(['10.0.0.0/8'], '::ffff:10.1.2.3')).toBe(true);
    expect(ipAllowed(['10.0.0.0/8'], '::ffff:11.1.2.3')).toBe(false);
  });

  it('an IPv4-mapped IPv6 mask keeps its IPv6 meaning for IPv4 clients', () => {
    const mapped8 = normalizeMask('::ffff:10.0.0.0/104') as string; // = 10.0.0.0/8
    expect(ipAllowed([mapped8], '10.1.2.3')).toBe(true);
    expect(ipAllowed([mapped8], '::ffff:10.1.2.3')).toBe(true);
    expect(ipAllowed([mapped8], '11.1.2.3')).toBe(false);
    const single = normalizeMask('::ffff:10.0.0.1') as string;
    expect(ipAllowed([single], '10.0.0.1')).toBe(true);
    expect(ipAllowed([single], '10.0.0.2')).toBe(false);
    // ::ffff:10.0.0.1/8 is ::/8, not 10.0.0.0/8.
    const wide = normalizeMask('::ffff:10.0.0.1/8') as string;
    expect(ipAllowed([wide], '192.0.2.1')).toBe(true);
    expect(ipAllowed([wide], '2001:db8::1')).toBe(false);
  });
});
