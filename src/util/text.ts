/**
 * One-line labels (descriptions, names, device ids) hold printable text only: no C0 controls, DEL or C1
 * controls (NUL and friends would reach logs, terminals and mail clients as is), and no lone surrogates
 * (RFC 8620 asks for I-JSON: a lone surrogate cannot be stored or read back as what was acknowledged).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** String.prototype.isWellFormed (V8 11.3, Node 20): a linear scan, about 4× faster than the regular expression on short strings (20 against 5 ns). */
const nativeWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/** Whether a string is valid Unicode (no unpaired UTF-16 surrogate): what I-JSON requires of every string. */
export function isWellFormed(text: string): boolean {
  return nativeWellFormed ? nativeWellFormed.call(text) : !LONE_SURROGATE.test(text);
}

export function isCleanLabel(text: string): boolean {
  return !CONTROL.test(text) && isWellFormed(text);
}

/** Why a label is refused, for error messages; undefined when it is fine. */
export function labelProblem(text: string): string | undefined {
  if (CONTROL.test(text)) return 'must not contain control characters';
  if (!isWellFormed(text)) return 'must not contain lone surrogates (invalid Unicode)';
  return undefined;
}
