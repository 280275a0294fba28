import { setFlagsFromString } from 'node:v8';

/** V8's old generation may grow to twice what survived the last full collection (its default on big machines: 4×). */
export const HEAP_GROWING_PERCENT = 100;

/** The V8 options an operator may set to size the heap themselves: given any of them, we leave the heap alone. */
const OPERATOR_CHOICE = /^--(?:heap[-_]growing[-_]percent|max[-_]old[-_]space[-_]size|max[-_]semi[-_]space[-_]size|optimize[-_]for[-_]size)\b/;

/**
 * A server's heap holds little that lives long (18 MB at a million keys), but /set batches live across several
 * young-generation collections, so their garbage reaches the old generation. With V8's default growth on a machine
 * with gigabytes free, that garbage piled up to ~90 MB before a full collection. Twice the live size keeps peak RSS
 * ~35 MB lower at no measured cost (bench/README.md, round 6). Read by V8 at each collection, so it takes effect at
 * run time. Returns whether it was applied.
 */
export function tuneHeapGrowth(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if ([...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => OPERATOR_CHOICE.test(arg))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
