/**
 * The PostgreSQL path of the benchmark (part of `npm run bench`; `npx tsx bench/pg.ts` alone).
 *
 * A throwaway PostgreSQL (test/helpers/postgres.ts: Debian's package, a temporary folder, an unprivileged user,
 * fsync off) gets the dataset once (bench/pg-dataset.ts) into a template database; the one-node and the two-node
 * set-ups each get their own copy of it (CREATE DATABASE … TEMPLATE), so /set of one does not grow the other's.
 * Beside them, in the same run, the SQLite path on a dataset of the same size. Per scenario and run the three
 * topologies are loaded in turn (the order rotates between runs):
 *
 * - **SQLite, 1 node** — one server on its SQLite file;
 * - **PostgreSQL, 1 node** — one server on the database;
 * - **PostgreSQL, 2 nodes** — two servers on the same database, the connections split between them.
 *
 * Reported: 2xx req/s over all nodes, each jmap-keys process's CPU per answer it gave, and the PostgreSQL cluster's
 * CPU (utime + stime of the postmaster, its reaped children and its live children, from /proc) per answer.
 * Then the cross-node revocation latency: a key created on node A, used on node B (so B has verified and cached
 * it), destroyed on A; B is asked again and again until it refuses the key.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Request } from 'autocannon';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../test/helpers/postgres.js';
import { startServerChild, type Child } from './child.js';
import { BENCH_SECRET, generateDataset, type Dataset } from './dataset.js';
import { loadNodes, type LoadNode, type LoadResult } from './load.js';
import { generatePgDataset } from './pg-dataset.js';
import { bearer, SCENARIOS, USING, type Scenario } from './scenarios.js';

/** The request kinds the PostgreSQL comparison covers. */
export const PG_SCENARIOS = ['Core/echo', 'x:ApiKey/get (Bearer)', 'x:ApiKey/query', 'verification (introspect)', 'x:ApiKey/set'];

export type Topology = 'sqlite' | 'pg-1' | 'pg-2';
const TOPOLOGIES: readonly Topology[] = ['sqlite', 'pg-1', 'pg-2'];
const TOPOLOGY_NAMES: Record<Topology, string> = { sqlite: 'SQLite, 1 node', 'pg-1': 'PostgreSQL, 1 node', 'pg-2': 'PostgreSQL, 2 nodes' };

export interface PgBenchOptions {
  keys: number;
  duration: number;
  connections: number;
  runs: number;
  warmup: number;
  /** Revocation trials (create on A, use on B, destroy on A, poll B). */
  trials: number;
  only?: string[];
  /** Write V8 CPU profiles of every server child into this folder (`node --cpu-prof`; one file per process and thread). */
  cpuProfDir?: string;
  log?: (msg: string) => void;
}

export const PG_DEFAULTS: Omit<PgBenchOptions, 'log'> = { keys: 100_000, duration: 5, connections: 10, runs: 2, warmup: 1, trials: 20 };

export interface PgRun {
  run: number;
  results: Partial<Record<Topology, LoadResult>>;
}

export interface PgScenarioResult {
  scenario: string;
  status: 'ok' | 'failed';
  detail?: string;
  createsPerCall?: number;
  /** Time of one unloaded call (the probe) per set-up, in ms. */
  probeMs: Partial<Record<Topology, number>>;
  runs: PgRun[];
}

export interface RevocationTrial {
  /** Destroy answered on A → first refusal on B, in ms. */
  afterAnswerMs: number;
  /** Destroy sent to A → first refusal on B, in ms. */
  afterSendMs: number;
  /** Answers from B that still accepted the key after A had answered the destroy. */
  staleAnswers: number;
  /** B's refusal status. */
  status: number;
}

export interface PgBenchReport {
  options: PgBenchOptions;
  postgresVersion: string;
  generation: { pgMs: number; sqliteMs: number; rows: number };
  scenarios: PgScenarioResult[];
  revocation: RevocationTrial[];
  revocationError?: string;
  markdown: string;
}

// ------------------------------------------------------------------------------------------ PostgreSQL's CPU time

interface ProcStat { ppid: number; ticks: number; childTicks: number }

function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state ppid … utime(12th) stime cutime cstime.
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}

/** The postmaster listening on `port`: the `postgres` process whose arguments hold `-p <port>`. */
function postmasterPid(port: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!argv[0]?.endsWith('postgres')) continue;
      const i = argv.indexOf('-p');
      if (i >= 0 && argv[i + 1] === String(port)) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * CPU time of the whole cluster so far, in ms: the postmaster's own, that of its children it has reaped (a backend
 * that ended), and each live child's (backends, walwriter, checkpointer, …).
 */
function clusterCpuMs(postmaster: number): number | undefined {
  const main = procStat(postmaster);
  if (!main) return undefined;
  let ticks = main.ticks + main.childTicks;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s && s.ppid === postmaster) ticks += s.ticks;
  }
  return (ticks * 1000) / 100; // USER_HZ
}

// ------------------------------------------------------------------------------------------ servers

function serverEnv(dir: string, settings: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JMAP_KEYS_') && v !== undefined) env[k] = v;
  const all: Record<string, string> = {
    JMAP_KEYS_DATA: dir, JMAP_KEYS_SECRET: BENCH_SECRET, ...settings,
    JMAP_KEYS_MAX_KEYS_PER_ACCOUNT: '100000000',
    JMAP_KEYS_MAX_APP_PASSWORDS_PER_ACCOUNT: '100000000',
    JMAP_KEYS_REST_READS_PER_WINDOW: '1000000',
    JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000000',
    // Async stores overlap one account's requests: 10 connections on one account must not hit the limit of 4.
    JMAP_KEYS_MAX_CONCURRENT_REQUESTS: '1000',
    // The revocation trials make B refuse a token 20 times: not a guesser to throttle.
    JMAP_KEYS_AUTH_MAX_FAILURES: '1000000',
  };
  loadConfig(all); // this tree's server: every setting above must be one it knows
  return { ...env, ...all };
}

async function createFromTemplate(adminUrl: string, template: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

// ------------------------------------------------------------------------------------------ revocation

async function jmapCall(url: string, token: string, calls: unknown[]): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/api`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: bearer(token) },
    body: JSON.stringify({ using: USING, methodCalls: calls }),
  });
  return { status: res.status, body: await res.text() };
}

const ECHO = [['Core/echo', {}, 'e']];

async function revocationTrial(a: string, b: string, adminToken: string, n: number): Promise<RevocationTrial> {
  const created = await jmapCall(a, adminToken, [['x:ApiKey/set', {
    create: { k: { description: `revocation trial ${n}`, permissions: { '@type': 'Inherit' }, allowedIps: [] } },
  }, 'c']]);
  const parsed = JSON.parse(created.body) as { methodResponses?: [string, { created?: { k?: { id: string; secret: string } } }][] };
  const key = parsed.methodResponses?.[0]?.[1].created?.k;
  if (!key) throw new Error(`create on node A failed: ${created.status} ${created.body.slice(0, 300)}`);
  // B verifies the new key (it learns about it from the database) and caches it.
  for (let i = 0; i < 2; i++) {
    const warm = await jmapCall(b, key.secret, ECHO);
    if (warm.status !== 200) throw new Error(`node B refused the new key: ${warm.status} ${warm.body.slice(0, 200)}`);
  }
  const sent = performance.now();
  const destroyed = await jmapCall(a, adminToken, [['x:ApiKey/set', { destroy: [key.id] }, 'd']]);
  const answered = performance.now();
  if (!destroyed.body.includes(`"destroyed":["${key.id}"]`)) throw new Error(`destroy on node A failed: ${destroyed.body.slice(0, 300)}`);
  let stale = 0;
  for (;;) {
    const r = await jmapCall(b, key.secret, ECHO);
    if (r.status !== 200) {
      const now = performance.now();
      return { afterAnswerMs: now - answered, afterSendMs: now - sent, staleAnswers: stale, status: r.status };
    }
    stale++;
    if (performance.now() - answered > 30_000) throw new Error('node B still accepts the destroyed key after 30 s');
  }
}

// ------------------------------------------------------------------------------------------ the run

async function probe(url: string, scenario: Scenario, req: Request): Promise<{ wrong?: string; ms: number }> {
  const t0 = performance.now();
  const body0 = typeof req.body === 'string' || req.body === undefined ? req.body : new Uint8Array(req.body);
  const res = await fetch(`${url}${req.path ?? '/'}`, { method: req.method ?? 'GET', headers: req.headers, body: body0 });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status < 200 || res.status >= 300) return { wrong: `answered ${res.status}: ${body.slice(0, 300)}`, ms };
  const wrong = scenario.check(body);
  return wrong ? { wrong, ms } : { ms };
}

export async function runPgBench(opts: PgBenchOptions): Promise<PgBenchReport> {
  const log = opts.log ?? ((m: string) => console.error(m));
  if (!postgresBinDir()) throw new Error('PostgreSQL is not installed (apt-get install postgresql): the PostgreSQL bench cannot run');
  const tmp = mkdtempSync(join(tmpdir(), 'jmap-keys-bench-pg-'));
  const children: Child[] = [];
  let server: TestPostgres | undefined;
  try {
    server = await startPostgres();
    const port = Number(new URL(server.url).port);
    const postmaster = postmasterPid(port);
    if (postmaster === undefined) log('[pg] postmaster not found in /proc: no PostgreSQL CPU figures');
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const postgresVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
    await admin.end();

    log(`[pg] loading ${opts.keys} keys into PostgreSQL ${postgresVersion}…`);
    const templateUrl = await server.createDatabase();
    const template = new URL(templateUrl).pathname.slice(1);
    const pgData = await generatePgDataset({ url: templateUrl, keys: opts.keys, log });
    log(`[pg] ${pgData.rows} rows in ${(pgData.ms / 1000).toFixed(2)} s`);
    log(`[pg] generating the same ${opts.keys} keys in SQLite…`);
    const sqliteDir = join(tmp, 'sqlite');
    mkdirSync(sqliteDir);
    const sqliteData = await generateDataset({ file: join(sqliteDir, 'bench.db'), keys: opts.keys, log });

    const start = async (dir: string, settings: Record<string, string>) => {
      mkdirSync(dir, { recursive: true });
      const nodeArgs = opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${join(resolve(opts.cpuProfDir), basename(dir))}`] : [];
      const child = await startServerChild(serverEnv(dir, settings), nodeArgs);
      children.push(child);
      return child;
    };
    const one = await createFromTemplate(server.url, template, `${template}_one`);
    const two = await createFromTemplate(server.url, template, `${template}_two`);
    const nodes: Record<Topology, LoadNode[]> = {
      sqlite: [await start(sqliteDir, { JMAP_KEYS_DB: sqliteData.file })],
      'pg-1': [await start(join(tmp, 'pg-1'), { JMAP_KEYS_DATABASE_URL: one })],
      'pg-2': [await start(join(tmp, 'pg-2a'), { JMAP_KEYS_DATABASE_URL: two }), await start(join(tmp, 'pg-2b'), { JMAP_KEYS_DATABASE_URL: two })],
    };
    const datasets: Record<Topology, Dataset> = { sqlite: sqliteData, 'pg-1': pgData, 'pg-2': pgData };
    const pgCpu = postmaster === undefined ? undefined : () => clusterCpuMs(postmaster);

    // Before the load: /set calls still running after a measurement would hold the account's state row.
    const revocation: RevocationTrial[] = [];
    let revocationError: string | undefined;
    try {
      const [a, b] = nodes['pg-2'] as [LoadNode, LoadNode];
      for (let n = 1; n <= opts.trials; n++) revocation.push(await revocationTrial(a.url, b.url, pgData.apiTokens[0] as string, n));
      log(`[pg] revocation: ${revocation.map((r) => r.afterAnswerMs.toFixed(1)).join(', ')} ms`);
    } catch (err) {
      revocationError = err instanceof Error ? err.message : String(err);
      log(`[pg] revocation trials failed: ${revocationError}`);
    }

    const chosen = SCENARIOS.filter((s) => PG_SCENARIOS.some((name) => s.name.startsWith(name)))
      .filter((s) => !opts.only?.length || opts.only.some((o) => s.name.toLowerCase().includes(o.toLowerCase())));
    const scenarios: PgScenarioResult[] = [];
    for (const scenario of chosen) {
      const result: PgScenarioResult = { scenario: scenario.name, status: 'ok', probeMs: {}, runs: [] };
      if (scenario.createsPerCall) result.createsPerCall = scenario.createsPerCall;
      scenarios.push(result);
      const requests = Object.fromEntries(TOPOLOGIES.map((t) => [t, scenario.requests(datasets[t])])) as Record<Topology, Request[]>;
      for (const t of TOPOLOGIES) {
        for (const [i, node] of nodes[t].entries()) {
          const { wrong, ms } = await probe(node.url, scenario, requests[t][0] as Request);
          if (i === 0) result.probeMs[t] = ms;
          if (wrong && result.status === 'ok') {
            result.status = 'failed';
            result.detail = `${TOPOLOGY_NAMES[t]}${nodes[t].length > 1 ? ` node ${i + 1}` : ''}: ${wrong}`;
          }
        }
      }
      if (result.status === 'failed') {
        log(`[pg] ${scenario.name}: FAILED — ${result.detail}`);
        continue;
      }
      const measure = (t: Topology, seconds: number) =>
        loadNodes(nodes[t], requests[t], scenario, opts.connections, seconds, t === 'sqlite' ? undefined : pgCpu);
      if (opts.warmup > 0) for (const t of TOPOLOGIES) await measure(t, opts.warmup);
      for (let run = 1; run <= opts.runs; run++) {
        const shift = (run - 1) % TOPOLOGIES.length;
        const order = [...TOPOLOGIES.slice(shift), ...TOPOLOGIES.slice(0, shift)];
        const results: PgRun['results'] = {};
        for (const t of order) results[t] = await measure(t, opts.duration);
        result.runs.push({ run, results });
        log(`[pg] ${scenario.name} #${run}: ${TOPOLOGIES.map((t) => `${t} ${fmtInt(results[t]?.reqPerSec ?? 0)} req/s`).join(', ')}`);
      }
    }

    const report: PgBenchReport = {
      options: opts, postgresVersion, generation: { pgMs: pgData.ms, sqliteMs: sqliteData.ms, rows: pgData.rows },
      scenarios, revocation, ...(revocationError ? { revocationError } : {}), markdown: '',
    };
    report.markdown = renderPg(report);
    return report;
  } finally {
    for (const c of children) await c.stop();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------ rendering

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtUs = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(0));
const fmtMs = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export function renderPg(r: PgBenchReport): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push(`PostgreSQL ${r.postgresVersion} (throwaway cluster, fsync off) and SQLite, ${fmtInt(r.generation.rows)} rows each `
    + `(loaded in ${(r.generation.pgMs / 1000).toFixed(1)} s into PostgreSQL, ${(r.generation.sqliteMs / 1000).toFixed(1)} s into SQLite); `
    + `${o.connections} connections in total (split over the nodes), ${o.duration} s per measurement, ${o.runs} run(s), topology order rotating per run. `
    + 'CPU µs/req: each jmap-keys process per answer it gave; PostgreSQL: the whole cluster per answer of all nodes.');
  lines.push('');
  lines.push('| scenario | set-up | run | req/s | p50 ms | p99 ms | CPU µs/req jmap-keys (node A / B) | CPU µs/req PostgreSQL | CPU µs/req total | notes |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of r.scenarios) {
    if (s.status === 'failed') {
      lines.push(`| ${s.scenario} | – | – | FAILED | | | | | | ${(s.detail ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 200)} |`);
      continue;
    }
    for (const t of TOPOLOGIES) {
      for (const run of s.runs) {
        const m = run.results[t];
        if (!m) continue;
        const nodeCpu = m.nodes.map((x) => fmtUs(x.cpuUsPerReq)).join(' / ');
        // Total CPU per answer: every jmap-keys process's time and PostgreSQL's, over all answers.
        const procCpu = m.nodes.reduce((sum, x) => sum + (x.cpuUsPerReq ?? 0) * x.ok, 0) / Math.max(1, m.ok);
        const total = procCpu + (m.extraCpuUsPerReq ?? 0);
        const probeMs = s.probeMs[t];
        const notes = [...(s.createsPerCall ? [`${fmtInt(m.reqPerSec * s.createsPerCall)} keys created/s${run.run === 1 && probeMs !== undefined ? `; one unloaded call ${fmtMs(probeMs)} ms` : ''}`] : []), ...m.problems];
        lines.push(`| ${s.scenario} | ${TOPOLOGY_NAMES[t]} | ${run.run} | ${fmtInt(m.reqPerSec)} | ${fmtMs(m.p50)} | ${fmtMs(m.p99)} | ${nodeCpu} | `
          + `${t === 'sqlite' ? '–' : fmtUs(m.extraCpuUsPerReq)} | ${fmtUs(total)} | ${notes.join('; ')} |`);
      }
    }
  }
  lines.push('');
  if (r.revocation.length > 0) {
    const after = r.revocation.map((x) => x.afterAnswerMs);
    const sent = r.revocation.map((x) => x.afterSendMs);
    const stale = r.revocation.map((x) => x.staleAnswers);
    const statuses = [...new Set(r.revocation.map((x) => x.status))].join(', ');
    lines.push(`**Cross-node revocation** (PostgreSQL, 2 nodes; ${r.revocation.length} trials: key created on A, used twice on B, destroyed on A, `
      + `then B asked back to back until it refuses): destroy answered on A → first refusal on B median ${fmtMs(median(after))} ms, max ${fmtMs(Math.max(...after))} ms; `
      + `destroy sent → refusal median ${fmtMs(median(sent))} ms, max ${fmtMs(Math.max(...sent))} ms; B still accepted the key after A's answer `
      + `${stale.reduce((x, y) => x + y, 0)} time(s) in all (max ${Math.max(...stale)} in one trial); B's refusal: HTTP ${statuses}.`);
  }
  if (r.revocationError) lines.push(`**Cross-node revocation**: not measured — ${r.revocationError.replace(/\n/g, ' ').slice(0, 300)}`);
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------------ command line

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' }, runs: { type: 'string' },
      warmup: { type: 'string' }, trials: { type: 'string' }, only: { type: 'string' }, smoke: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
    },
  });
  const base = values.smoke ? { ...PG_DEFAULTS, keys: 1000, duration: 1, runs: 1, warmup: 0, trials: 5 } : PG_DEFAULTS;
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v.replace(/k$/i, '000').replace(/M$/, '000000')));
  runPgBench({
    keys: num(values.keys, base.keys), duration: num(values.duration, base.duration), connections: num(values.connections, base.connections),
    runs: num(values.runs, base.runs), warmup: num(values.warmup, base.warmup), trials: num(values.trials, base.trials),
    ...(values.only ? { only: values.only.split(',') } : {}),
    ...(values['cpu-prof'] ? { cpuProfDir: values['cpu-prof'] } : {}),
  }).then((report) => {
    console.log(report.markdown);
    if (report.scenarios.some((s) => s.status === 'failed') || report.revocationError) process.exitCode = 1;
  }, (err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exit(1);
  });
}
