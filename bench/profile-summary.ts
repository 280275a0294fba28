/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --cpu-prof DIR`): self time by function
 * and by package/file, so the hot path shows without opening DevTools.
 *
 *   npx tsx bench/profile-summary.ts DIR/server-1000000.cpuprofile [--top 30] [--all]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Groups a script URL: a package name, a file of this repository, or a Node internal. */
export function groupOf(url: string): string {
  if (url === '') return '(native/VM)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1] as string;
  // The server runs compiled (dist/): its files count as src/ (same path, .js).
  const repo = /\/(src|dist|bench)\/(.+)$/.exec(url);
  if (repo) return `${repo[1] === 'dist' ? 'src' : repo[1]}/${repo[2]}`;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
}

function byIdName(profile: Profile, id: number): string | undefined {
  return profile.nodes.find((n) => n.id === id)?.callFrame.functionName;
}

/** `all`: inclusive time of every function, not only this repository's. */
export function summarise(profile: Profile, top = 25, all = false): string {
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Percentages are of busy time: the server idles while the baselines are measured.
  const idle = [...self].filter(([id]) => byIdName(profile, id) === '(idle)').reduce((a, [, us]) => a + us, 0);
  const total = [...self.values()].reduce((a, b) => a + b, 0) - idle;
  const byFunction = new Map<string, number>();
  const byGroup = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const group = groupOf(url);
    const fn = `${functionName || '(anonymous)'} ${group}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byGroup.set(group, (byGroup.get(group) ?? 0) + us);
  }
  // Inclusive time per function of this repository (each stack counted once, even through recursion).
  const inclusive = new Map<string, number>();
  const subtree = new Map<number, number>();
  const sizeOf = (id: number): number => {
    const known = subtree.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let us = self.get(id) ?? 0;
    for (const c of node?.children ?? []) us += sizeOf(c);
    subtree.set(id, us);
    return us;
  };
  const walk = (id: number, onPath: Set<string>) => {
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const group = groupOf(url);
    const key = `${functionName || '(anonymous)'} ${group}:${lineNumber + 1}`;
    const mine = (all || group.startsWith('src/')) && !onPath.has(key);
    if (mine) {
      inclusive.set(key, (inclusive.get(key) ?? 0) + sizeOf(id));
      onPath.add(key);
    }
    for (const c of node.children ?? []) walk(c, onPath);
    if (mine) onPath.delete(key);
  };
  const root = profile.nodes[0];
  if (root) walk(root.id, new Set());
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const lines = [`${(total / 1e6).toFixed(2)} s busy (${(idle / 1e6).toFixed(2)} s idle left out); percentages are of busy time`, '', 'self time by package / file:'];
  for (const [g, us] of [...byGroup].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${g}`);
  lines.push('', 'self time by function:');
  for (const [f, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${f}`);
  lines.push('', all ? 'inclusive time of every function:' : 'inclusive time of src/ functions:');
  for (const [f, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${f}`);
  return lines.join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, all: { type: 'boolean', default: false } } });
  if (positionals.length === 0) {
    console.error('usage: profile-summary.ts FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  for (const file of positionals) {
    console.log(`# ${file}`);
    console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.top), values.all));
  }
}
