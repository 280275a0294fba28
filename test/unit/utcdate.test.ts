import { describe, expect, it } from 'vitest';
import { formatUtcDate, nowSeconds, parseUtcDate } from '../../src/util/utcdate.js';

const T = Date.UTC(2026, 1, 1, 12, 0, 0) / 1000; // 2026-02-01T12:00:00Z

describe('parseUtcDate (RFC 8620 §1.4)', () => {
  it('parses the normalised form to unix seconds', () => {
    expect(parseUtcDate('2026-02-01T12:00:00Z')).toBe(T);
    expect(parseUtcDate('1970-01-01T00:00:00Z')).toBe(0);
    expect(parseUtcDate('3000-12-31T23:59:59Z')).toBe(Date.UTC(3000, 11, 31, 23, 59, 59) / 1000);
  });

  it('accepts a fractional part and drops it (stored as whole seconds)', () => {
    expect(parseUtcDate('2026-02-01T12:00:00.000Z')).toBe(T);
    expect(parseUtcDate('2026-02-01T12:00:00.9Z')).toBe(T);
    expect(parseUtcDate('2026-02-01T12:00:00.123456789Z')).toBe(T);
  });

  it('refuses offsets other than Z and lower-case letters', () => {
    for (const s of ['2026-02-01T12:00:00+01:00', '2026-02-01T12:00:00+00:00', '2026-02-01T12:00:00-00:00', '2026-02-01t12:00:00z',
      '2026-02-01T12:00:00z', '2026-02-01t12:00:00Z', '2026-02-01T12:00:00']) {
      expect(parseUtcDate(s), s).toBeUndefined();
    }
  });

  it('refuses other layouts', () => {
    for (const s of ['', '2026-02-01', '2026-02-01 12:00:00Z', '2026-2-1T12:00:00Z', '20260201T120000Z', '2026-02-01T12:00Z',
      '+02026-02-01T12:00:00Z', ' 2026-02-01T12:00:00Z', '2026-02-01T12:00:00Z ', '2026-02-01T12:00:00.Z',
      '2026-02-01T12:00:00.1234567890Z', '2026-02-01T12:00:00,5Z', '٢٠٢٦-02-01T12:00:00Z']) {
      expect(parseUtcDate(s), s).toBeUndefined();
    }
  });

  it('refuses dates and times that do not exist', () => {
    for (const s of ['2026-02-30T00:00:00Z', '2026-02-29T00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z',
      '2026-01-00T00:00:00Z', '2026-04-31T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T25:00:00Z',
      '2026-01-01T00:60:00Z', '2026-01-01T00:00:60Z', '2016-12-31T23:59:60Z']) {
      expect(parseUtcDate(s), s).toBeUndefined();
    }
    expect(parseUtcDate('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29) / 1000);
    expect(parseUtcDate('2000-02-29T00:00:00Z')).toBe(Date.UTC(2000, 1, 29) / 1000);
    expect(parseUtcDate('2100-02-29T00:00:00Z')).toBeUndefined();
  });

  it('refuses years outside 1970..3000', () => {
    expect(parseUtcDate('1969-12-31T23:59:59Z')).toBeUndefined();
    expect(parseUtcDate('0000-01-01T00:00:00Z')).toBeUndefined();
    expect(parseUtcDate('3001-01-01T00:00:00Z')).toBeUndefined();
    expect(parseUtcDate('9999-12-31T23:59:59Z')).toBeUndefined();
  });
});

describe('formatUtcDate (RFC 8620 §1.4)', () => {
  it('emits YYYY-MM-DDTHH:MM:SSZ without milliseconds', () => {
    expect(formatUtcDate(T)).toBe('2026-02-01T12:00:00Z');
    expect(formatUtcDate(0)).toBe('1970-01-01T00:00:00Z');
  });

  it('never emits a fractional part, even for fractional seconds', () => {
    expect(formatUtcDate(T + 0.5)).toBe('2026-02-01T12:00:00Z');
  });

  it('round-trips with parseUtcDate', () => {
    for (const s of ['2026-02-01T12:00:00Z', '2024-02-29T23:59:59Z', '3000-12-31T23:59:59Z']) {
      expect(formatUtcDate(parseUtcDate(s) as number)).toBe(s);
    }
    expect(formatUtcDate(parseUtcDate('2026-02-01T12:00:00.000Z') as number)).toBe('2026-02-01T12:00:00Z');
  });
});

describe('nowSeconds', () => {
  it('is whole unix seconds, formattable as a UTCDate', () => {
    const now = nowSeconds();
    expect(Number.isInteger(now)).toBe(true);
    expect(parseUtcDate(formatUtcDate(now))).toBe(now);
  });
});

describe('parseUtcDate against a Date round trip', () => {
  // The definition the arithmetic replaces: whatever Date.UTC normalises (30 February, hour 24) is not a date.
  const reference = (s: string): number | undefined => {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?Z$/.exec(s);
    if (!m) return undefined;
    const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    if (y < 1970 || y > 3000) return undefined;
    const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
    const same = t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d
      && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === se;
    return same ? t.getTime() / 1000 : undefined;
  };
  const two = (n: number) => String(n).padStart(2, '0');

  it('agrees on every month and day (0 to 32) of leap, century and boundary years', () => {
    for (const y of [1970, 1999, 2000, 2023, 2024, 2100, 2400, 2999, 3000]) {
      for (let mo = 0; mo <= 13; mo++) {
        for (let d = 0; d <= 32; d++) {
          const s = `${y}-${two(mo)}-${two(d)}T23:59:59Z`;
          expect(parseUtcDate(s), s).toBe(reference(s));
        }
      }
    }
  });

  it('agrees on every hour, minute and second value from 0 to 99', () => {
    for (let v = 0; v <= 99; v++) {
      for (const s of [`2026-06-15T${two(v)}:00:00Z`, `2026-06-15T00:${two(v)}:00Z`, `2026-06-15T00:00:${two(v)}.5Z`]) {
        expect(parseUtcDate(s), s).toBe(reference(s));
      }
    }
  });
});
