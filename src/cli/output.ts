import { isPlainObject, type JsonObject, type JsonValue } from '../jmap/types.js';

/** Human output (tables, label: value lists) and JSON output for scripts. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Long cells are shortened only on a terminal. */
  isTty: boolean;
}

export const stdio: Output = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  get isTty() {
    return process.stdout.isTTY === true;
  },
};

export function json(value: JsonValue): string {
  return JSON.stringify(value, null, 2);
}

const LABELS: Record<string, string> = { allowedIps: 'Allowed IPs', apiKeys: 'API Keys' };

/** `expiresAt` → `Expires At`. */
export function label(property: string): string {
  if (LABELS[property]) return LABELS[property];
  const words = property.replace(/([a-z0-9])([A-Z])/g, '$1 $2');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** One value as table text: null → "-", sets joined, permissions as "Replace: a, b". */
export function formatValue(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
  if (typeof value['@type'] === 'string' && Object.keys(value).every((k) => k === '@type' || k === 'permissions')) {
    const list = value.permissions;
    return Array.isArray(list) ? `${value['@type']}: ${list.length === 0 ? '(none)' : list.join(', ')}` : value['@type'];
  }
  return JSON.stringify(value);
}

const MAX_CELL = 60;
const clip = (text: string, limit: number) => (text.length > limit ? `${text.slice(0, limit - 1)}…` : text);
const oneLine = (text: string) => text.replace(/[\r\n\t]+/g, ' ');

/** A plain text table with a header row; cells padded to the widest. */
export function renderTable(columns: readonly string[], rows: readonly JsonObject[], isTty: boolean): string {
  const cells = rows.map((row) => columns.map((c) => {
    const text = oneLine(formatValue(row[c]));
    return isTty ? clip(text, MAX_CELL) : text;
  }));
  const header = columns.map(label);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** One record as "Label: value" lines, in the given property order. */
export function renderRecord(record: JsonObject, properties: readonly string[]): string {
  const labels = properties.map(label);
  const width = Math.max(...labels.map((l) => l.length));
  return properties.map((p, i) => `${`${labels[i] as string}:`.padEnd(width + 2)}${oneLine(formatValue(record[p]))}`).join('\n');
}

/** A SetError as one line: "invalidProperties: properties description". */
export function formatSetError(error: JsonValue | undefined): string {
  if (!isPlainObject(error)) return 'serverFail';
  const type = typeof error.type === 'string' ? error.type : 'serverFail';
  const parts: string[] = [];
  if (typeof error.description === 'string') parts.push(error.description);
  if (Array.isArray(error.properties) && error.properties.length > 0) parts.push(`properties ${error.properties.join(', ')}`);
  return parts.length > 0 ? `${type}: ${parts.join('; ')}` : type;
}
