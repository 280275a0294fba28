/**
 * `npm run bench:seam` — the async store seam's cost on the SQLite path, before and after, in the same run.
 *
 * Both commits (default: e86ec66, the last commit before the conversion, and HEAD) are materialised with
 * `git archive` into a temporary folder, get this repository's node_modules as a symlink, are compiled with their
 * own `bin/build.js` and started with their own `bin/server.js` (what `npm start` runs; `--tsx` runs both from
 * their sources instead): the same treatment for both. Each server gets its own copy of one generated dataset
 * file. Per scenario the two are loaded alternately (before, after, after, before, …) so machine noise hits both,
 * and the result is each process's CPU time per answered request, and the after/before ratio per run.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Request } from 'autocannon';
import { ROOT, startServerChild, type Child } from './child.js';
import { BENCH_SECRET, generateDataset, type Dataset } from './dataset.js';
import { loadNodes, type LoadResult } from './load.js';
import { SCENARIOS, type Scenario } from './scenarios.js';

/** The five request kinds the issue names. */
export const SEAM_SCENARIOS = ['Core/echo', 'x:ApiKey/get (Bearer)', 'x:ApiKey/query', 'verification (introspect)', 'x:ApiKey/set'];

export interface SeamOptions {
  before: string;
  after: string;
  keys: number;
  duration: number;
  connections: number;
  /** Measured pairs per scenario (the order alternates: before first in odd runs, after first in even ones). */
  runs: number;
  warmup: number;
  /** Run both trees from their sources through tsx instead of compiling both. */
  tsx: boolean;
  only?: string[];
  log?: (msg: string) => void;
}

export const SEAM_DEFAULTS: Omit<SeamOptions, 'log'> = {
  before: 'e86ec66', after: 'HEAD', keys: 100_000, duration: 5, connections: 10, runs: 4, warmup: 1, tsx: false,
};

interface Tree {
  label: 'before' | 'after';
  ref: string;
  commit: string;
  dir: string;
}

function git(args: string[]): string {
  const r = spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** The commit's files in `dir` (git archive, no worktree bookkeeping), node_modules linked. */
function materialise(label: Tree['label'], ref: string, dir: string): Tree {
  const commit = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  mkdirSync(dir, { recursive: true });
  const archive = spawnSync('sh', ['-c', `git -C "${ROOT}" archive --format=tar "${commit}" | tar -x -C "${dir}"`], { encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`git archive ${ref} failed: ${archive.stderr}`);
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules'));
  return { label, ref, commit, dir };
}

/** Compiles the tree with its own bin/build.js; returns tsc's complaint when the build fails (no stamp then). */
function build(tree: Tree, log: (m: string) => void): string | undefined {
  log(`[seam] compiling ${tree.label} (${tree.commit.slice(0, 7)})…`);
  const r = spawnSync(process.execPath, ['bin/build.js'], { cwd: tree.dir, encoding: 'utf8' });
  return r.status === 0 ? undefined : (`${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? '').slice(0, 160);
}

/**
 * The bench settings this tree's configuration accepts (it is strict: an unknown setting stops the server), asked
 * of the tree's own loadConfig in a child process.
 */
function acceptedSettings(tree: Tree, base: Record<string, string>, optional: Record<string, string>): Record<string, string> {
  const script = `const { loadConfig } = await import('./src/config.ts');
const [base, optional] = JSON.parse(process.argv[1]);
const ok = {};
for (const [k, v] of Object.entries(optional)) { try { loadConfig({ ...base, [k]: v }); ok[k] = v; } catch {} }
console.log(JSON.stringify(ok));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify([base, optional])],
    { cwd: tree.dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`config probe of ${tree.ref} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, string>;
}

function envFor(tree: Tree, file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JMAP_KEYS_') && v !== undefined) env[k] = v;
  const settings = { JMAP_KEYS_DATA: join(file, '..'), JMAP_KEYS_DB: file, JMAP_KEYS_SECRET: BENCH_SECRET };
  const optional = acceptedSettings(tree, settings, {
    JMAP_KEYS_MAX_KEYS_PER_ACCOUNT: '100000000',
    JMAP_KEYS_MAX_APP_PASSWORDS_PER_ACCOUNT: '100000000',
    JMAP_KEYS_REST_READS_PER_WINDOW: '1000000',
    JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000000',
    JMAP_KEYS_AUTH_MAX_FAILURES: '1000000',
    JMAP_KEYS_MAX_CONCURRENT_REQUESTS: '1000',
  });
  return { ...env, ...settings, ...optional };
}

/** Whether the tree's own launcher will run its compiled build (and not fall back to tsx). */
async function runsCompiled(tree: Tree): Promise<boolean> {
  const launch = (await import(pathToFileURL(join(tree.dir, 'bin', 'launch.js')).href)) as { buildIsFresh?: () => boolean };
  return launch.buildIsFresh?.() ?? false;
}

export interface SeamPair {
  run: number;
  order: string;
  before: LoadResult;
  after: LoadResult;
}

export interface SeamScenario {
  scenario: string;
  status: 'ok' | 'failed';
  detail?: string;
  pairs: SeamPair[];
}

export interface SeamReport {
  options: SeamOptions;
  before: Tree;
  after: Tree;
  code: 'compiled' | 'tsx';
  /** Why both ran through tsx although a compiled run was asked for. */
  fallback?: string;
  dataset: { rows: number; ms: number };
  scenarios: SeamScenario[];
  markdown: string;
}

async function probe(url: string, scenario: Scenario, req: Request): Promise<string | undefined> {
  const body0 = typeof req.body === 'string' || req.body === undefined ? req.body : new Uint8Array(req.body);
  const res = await fetch(`${url}${req.path ?? '/'}`, { method: req.method ?? 'GET', headers: req.headers, body: body0 });
  const body = await res.text();
  if (res.status < 200 || res.status >= 300) return `answered ${res.status}: ${body.slice(0, 300)}`;
  return scenario.check(body);
}

export async function runSeam(opts: SeamOptions): Promise<SeamReport> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const tmp = mkdtempSync(join(tmpdir(), 'jmap-keys-seam-'));
  const servers: Child[] = [];
  try {
    const before = materialise('before', opts.before, join(tmp, 'before'));
    const after = materialise('after', opts.after, join(tmp, 'after'));
    let tsx = opts.tsx;
    let why: string | undefined;
    if (!tsx) {
      for (const t of [before, after]) {
        const failed = build(t, log);
        if (failed) why = `${t.ref} does not compile (${failed})`;
      }
      if (why) {
        // The same treatment for both: when one cannot be built, both run from their sources.
        log(`[seam] ${why}: both run from their sources through tsx`);
        for (const t of [before, after]) rmSync(join(t.dir, 'dist'), { recursive: true, force: true });
        tsx = true;
      }
    }
    for (const t of [before, after]) {
      if ((await runsCompiled(t)) === tsx) throw new Error(`${t.ref}: its launcher would not run ${tsx ? 'the sources' : 'the fresh build'}`);
    }
    log(`[seam] generating ${opts.keys} keys…`);
    const data = join(tmp, 'dataset.db');
    const dataset: Dataset = await generateDataset({ file: data, keys: opts.keys, log });
    const nodes: Record<Tree['label'], Child> = {} as Record<Tree['label'], Child>;
    for (const t of [before, after]) {
      const dir = join(tmp, `data-${t.label}`);
      mkdirSync(dir);
      const file = join(dir, 'bench.db');
      copyFileSync(data, file);
      const env = envFor(t, file);
      // Both run the same way, through their own bin/server.js: the fresh build, or (--tsx: nothing built) the
      // sources through tsx.
      const child = await startServerChild(env, [], t.dir);
      servers.push(child);
      nodes[t.label] = child;
      log(`[seam] ${t.label} ${t.commit.slice(0, 7)} listening at ${child.url} (start-up ${Math.round(child.startupMs)} ms)`);
    }

    const chosen = SCENARIOS.filter((s) => SEAM_SCENARIOS.some((name) => s.name.startsWith(name)))
      .filter((s) => !opts.only?.length || opts.only.some((o) => s.name.toLowerCase().includes(o.toLowerCase())));
    const scenarios: SeamScenario[] = [];
    for (const scenario of chosen) {
      const requests = scenario.requests(dataset);
      const result: SeamScenario = { scenario: scenario.name, status: 'ok', pairs: [] };
      scenarios.push(result);
      for (const label of ['before', 'after'] as const) {
        const wrong = await probe(nodes[label].url, scenario, requests[0] as Request);
        if (wrong) {
          result.status = 'failed';
          result.detail = `${label}: ${wrong}`;
        }
      }
      if (result.status === 'failed') {
        log(`[seam] ${scenario.name}: FAILED — ${result.detail}`);
        continue;
      }
      const one = (label: Tree['label'], seconds: number) => loadNodes([nodes[label]], requests, scenario, opts.connections, seconds);
      if (opts.warmup > 0) for (const label of ['before', 'after'] as const) await one(label, opts.warmup);
      for (let run = 1; run <= opts.runs; run++) {
        const order: Tree['label'][] = run % 2 === 1 ? ['before', 'after'] : ['after', 'before'];
        const m = {} as Record<Tree['label'], LoadResult>;
        for (const label of order) m[label] = await one(label, opts.duration);
        result.pairs.push({ run, order: order.join(', '), before: m.before, after: m.after });
        log(`[seam] ${scenario.name} #${run}: before ${fmtUs(cpu(m.before))} µs/req, after ${fmtUs(cpu(m.after))} µs/req (× ${fmtRatio(ratio(m))})`);
      }
    }
    const report: SeamReport = {
      options: opts, before, after, code: tsx ? 'tsx' : 'compiled', ...(why ? { fallback: why } : {}),
      dataset: { rows: dataset.rows, ms: dataset.ms }, scenarios, markdown: '',
    };
    report.markdown = renderSeam(report);
    return report;
  } finally {
    for (const s of servers) await s.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------- rendering

const cpu = (m: LoadResult) => m.nodes[0]?.cpuUsPerReq;
const ratio = (p: { before: LoadResult; after: LoadResult }) => {
  const b = cpu(p.before);
  const a = cpu(p.after);
  return a === undefined || b === undefined ? Number.NaN : a / b;
};
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtUs = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(0));
const fmtRatio = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export function renderSeam(r: SeamReport): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push(`Before: ${r.before.ref} (${r.before.commit.slice(0, 7)}); after: ${r.after.ref} (${r.after.commit.slice(0, 7)}); both ${r.code === 'compiled' ? 'compiled with their own bin/build.js and started with their own bin/server.js' : `run from their sources through tsx${r.fallback ? ` (${r.fallback})` : ''}`}; `
    + `${fmtInt(r.dataset.rows)} rows (one generated SQLite file, a copy each); ${o.connections} connections, ${o.duration} s per measurement, ${o.runs} pairs per scenario, order alternating.`);
  lines.push('');
  lines.push('| scenario | run | order | before req/s | after req/s | before CPU µs/req | after CPU µs/req | after / before CPU | notes |');
  lines.push('|---|---:|---|---:|---:|---:|---:|---:|---|');
  for (const s of r.scenarios) {
    if (s.status === 'failed') {
      lines.push(`| ${s.scenario} | – | | FAILED | | | | | ${(s.detail ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 200)} |`);
      continue;
    }
    for (const p of s.pairs) {
      const notes = [...p.before.problems.map((x) => `before: ${x}`), ...p.after.problems.map((x) => `after: ${x}`)];
      lines.push(`| ${s.scenario} | ${p.run} | ${p.order} | ${fmtInt(p.before.reqPerSec)} | ${fmtInt(p.after.reqPerSec)} | ${fmtUs(cpu(p.before))} | ${fmtUs(cpu(p.after))} | ${fmtRatio(ratio(p))} | ${notes.join('; ')} |`);
    }
  }
  lines.push('');
  lines.push('| scenario | CPU µs/req before (median) | after (median) | after / before (median of pairs) | ≤ 1.10 |');
  lines.push('|---|---:|---:|---:|---|');
  for (const s of r.scenarios.filter((x) => x.status === 'ok')) {
    const rat = median(s.pairs.map(ratio));
    const b = median(s.pairs.map((p) => cpu(p.before) ?? Number.NaN));
    const a = median(s.pairs.map((p) => cpu(p.after) ?? Number.NaN));
    lines.push(`| ${s.scenario} | ${fmtUs(b)} | ${fmtUs(a)} | ${fmtRatio(rat)} | ${Number.isFinite(rat) ? (rat <= 1.1 ? 'met' : '**missed**') : 'not measured'} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------- command line

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      before: { type: 'string' },
      after: { type: 'string' },
      keys: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      only: { type: 'string' },
      tsx: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: npm run bench:seam -- [--before e86ec66] [--after HEAD] [--keys 100000] [--duration 5] [--runs 4]
                            [--connections 10] [--warmup 1] [--only echo,query] [--tsx] [--smoke]`);
    return;
  }
  const base: Omit<SeamOptions, 'log'> = values.smoke ? { ...SEAM_DEFAULTS, keys: 1000, duration: 1, runs: 2, warmup: 0 } : SEAM_DEFAULTS;
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v.replace(/k$/i, '000').replace(/M$/, '000000')));
  const report = await runSeam({
    before: values.before ?? base.before,
    after: values.after ?? base.after,
    keys: num(values.keys, base.keys),
    duration: num(values.duration, base.duration),
    connections: num(values.connections, base.connections),
    runs: num(values.runs, base.runs),
    warmup: num(values.warmup, base.warmup),
    tsx: values.tsx || base.tsx,
    ...(values.only ? { only: values.only.split(',') } : {}),
  });
  console.log(report.markdown);
  if (report.scenarios.some((s) => s.status === 'failed')) process.exitCode = 1;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  if (!existsSync(join(ROOT, '.git'))) console.error('[seam] not a git checkout: needs git to materialise the commits');
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exit(1);
  });
}
