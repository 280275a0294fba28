/**
 * `npm run bench` — the benchmark suite. See bench/README.md.
 *
 * For each dataset size: generate the SQLite file, start the real server (`node --import tsx src/main.ts`) in a
 * child process (start-up = spawn → first 200 from /healthz, peak RSS = VmHWM), then for every scenario and run
 * measure, back to back with the same autocannon settings and the same requests: the raw node:http baseline, the
 * bare Hono baseline, and the server. Ratios are taken within a run, never across runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Request } from 'autocannon';
import { cpuMs, peakRss, startBaselineChild, startServerChild, type Child } from './child.js';
import { latencyRecorder } from './load.js';
import { buildIsFresh } from '../bin/launch.js';
import { loadConfig } from '../src/config.js';
import { BASELINES, type BaselineKind } from './baselines.js';
import { BENCH_SECRET, generateDataset, type Dataset } from './dataset.js';
import { SCENARIOS, type Scenario } from './scenarios.js';
import { PG_DEFAULTS, runPgBench, type PgBenchReport } from './pg.js';
import { postgresBinDir } from '../test/helpers/postgres.js';

/** `floor`: bare Hono with the Node body doing the scenario's required work (bench/floor.ts). */
export type Target = BaselineKind | 'floor' | 'server';

export interface BenchOptions {
  sizes: number[];
  /** Seconds per measurement. */
  duration: number;
  connections: number;
  runs: number;
  /** Seconds of unmeasured load per scenario and target before run 1. */
  warmup: number;
  /** Server starts per size for the start-up figure (the last one is benchmarked). */
  startups: number;
  /** Only scenarios whose name contains one of these (case-insensitive). */
  only?: string[];
  /**
   * The PostgreSQL path (bench/pg.ts) after the SQLite sizes: keys in its dataset and revocation trials; left out
   * when undefined (the smoke run) or when PostgreSQL is not installed.
   */
  pg?: { keys: number; trials: number };
  /** Only the PostgreSQL path (it measures SQLite on a dataset of its size beside it). */
  pgOnly?: boolean;
  /** Write a V8 CPU profile of the server child into this folder (`node --cpu-prof`). */
  cpuProfDir?: string;
  /** Progress messages (stderr by default). */
  log?: (msg: string) => void;
}

export interface Measurement {
  target: Target;
  reqPerSec: number;
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  statusCodes: Record<string, number>;
  /** CPU time of the target process per 2xx response, in µs (undefined without /proc). */
  cpuUsPerReq?: number;
}

export interface RunResult {
  run: number;
  server: Measurement;
  raw: Measurement;
  hono: Measurement;
  'hono-node': Measurement;
  /**
   * Bare Hono with the Node body again, held by the load generator to the rate the server just reached. At full
   * load a slower process pays more per answer (the load generator idles, so every answer has to wake it, and the
   * server's reads arrive one at a time); at an equal rate both pay the same wake-ups, and the CPU ratio is the
   * server's own work.
   */
  equalRate?: Measurement;
  /** The scenario's floor (`Scenario.floor`) at full load: only the work every such request must do. */
  floor?: Measurement;
}

export interface ScenarioResult {
  scenario: string;
  size: number;
  status: 'ok' | 'not-implemented' | 'failed';
  detail?: string;
  createsPerCall?: number;
  /** Time of the single, unloaded probe request. */
  probeMs?: number;
  runs: RunResult[];
}

export interface SizeResult {
  size: number;
  generationMs: number;
  rows: number;
  startupMs: number[];
  peakRssBytes: number | undefined;
  scenarios: ScenarioResult[];
}

export interface BenchReport {
  options: BenchOptions;
  /** What bin/server.js ran: the compiled build, or the sources through tsx (dist/ missing or stale). */
  serverCode: 'compiled' | 'tsx';
  sizes: SizeResult[];
  baselineRssBytes: Partial<Record<BaselineKind, number>>;
  pg?: PgBenchReport;
  /** Why the PostgreSQL path was not measured although asked for. */
  pgSkipped?: string;
  markdown: string;
}

export const SMOKE: Omit<BenchOptions, 'log'> = { sizes: [200], duration: 1, connections: 4, runs: 1, warmup: 0, startups: 1 };
export const DEFAULTS: Omit<BenchOptions, 'log'> = {
  sizes: [10_000, 1_000_000], duration: 5, connections: 10, runs: 2, warmup: 1, startups: 3, pg: { keys: PG_DEFAULTS.keys, trials: PG_DEFAULTS.trials },
};

/**
 * Server settings for the benchmark: the defaults, except the fixed secret, quotas that fit the dataset and REST
 * rate limits that do not throttle the load generator. Settings this version of the server does not know (its
 * configuration is strict) are left out, so the bench runs against older and newer commits alike.
 */
function serverEnv(dir: string, d: Dataset): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JMAP_KEYS_') && v !== undefined) env[k] = v;
  const settings: Record<string, string> = { JMAP_KEYS_DATA: dir, JMAP_KEYS_DB: d.file, JMAP_KEYS_SECRET: BENCH_SECRET };
  const optional: Record<string, string> = {
    JMAP_KEYS_MAX_KEYS_PER_ACCOUNT: '100000000',
    JMAP_KEYS_MAX_APP_PASSWORDS_PER_ACCOUNT: '100000000',
    JMAP_KEYS_REST_READS_PER_WINDOW: '1000000',
    JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000000',
  };
  for (const [k, v] of Object.entries(optional)) {
    try {
      loadConfig({ ...settings, [k]: v });
      settings[k] = v;
    } catch {
      // not a setting of this version
    }
  }
  return { ...env, ...settings };
}


/** One autocannon run; latency percentiles come from every 2xx response time (autocannon's own histogram is whole ms). */
async function measure(target: Target, url: string, pid: number, requests: Request[], opts: BenchOptions, duration: number, scenario: Scenario, rate?: number): Promise<Measurement> {
  const latency = latencyRecorder();
  const instance = autocannon({
    url,
    connections: opts.connections,
    duration,
    timeout: 30,
    requests,
    ...(rate !== undefined ? { overallRate: Math.max(1, Math.round(rate)) } : {}),
    // The baselines answer a fixed object; only the server's bodies can be verified.
    ...(scenario.verifyBody && target === 'server' ? { verifyBody: scenario.verifyBody } : {}),
  });
  instance.on('response', latency.record);
  const cpu0 = cpuMs(pid);
  const r = await instance;
  const cpu1 = cpuMs(pid);
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(r.statusCodeStats)) statusCodes[code] = count;
  return {
    target,
    reqPerSec: r.duration > 0 ? r['2xx'] / r.duration : 0,
    ...latency.percentiles(),
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    mismatches: r.mismatches,
    statusCodes,
    ...(cpu0 !== undefined && cpu1 !== undefined && r['2xx'] > 0 ? { cpuUsPerReq: ((cpu1 - cpu0) * 1000) / r['2xx'] } : {}),
  };
}

/** Sends the scenario's first request once: 404/405 means the route does not exist yet. */
async function probe(url: string, scenario: Scenario, req: Request): Promise<Pick<ScenarioResult, 'status' | 'detail' | 'probeMs'>> {
  const t0 = performance.now();
  const body0 = typeof req.body === 'string' || req.body === undefined ? req.body : new Uint8Array(req.body);
  const res = await fetch(`${url}${req.path ?? '/'}`, { method: req.method ?? 'GET', headers: req.headers, body: body0 });
  const body = await res.text();
  const probeMs = performance.now() - t0;
  if (res.status === 404 || res.status === 405) return { status: 'not-implemented' };
  if (res.status < 200 || res.status >= 300) return { status: 'failed', detail: `probe answered ${res.status}: ${body.slice(0, 300)}` };
  const wrong = scenario.check(body);
  return wrong ? { status: 'failed', detail: `probe: ${wrong}` } : { status: 'ok', probeMs };
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const log = opts.log ?? ((msg: string) => console.error(msg));
  const serverCode = buildIsFresh() ? 'compiled' : 'tsx';
  if (serverCode === 'tsx') log('dist/ is missing or older than src/: the server runs through tsx (npm run bench builds first)');
  const scenarios = SCENARIOS.filter((s) => !opts.only?.length || opts.only.some((o) => s.name.toLowerCase().includes(o.toLowerCase())));
  const baselines = {} as Record<BaselineKind, Child>;
  if (!opts.pgOnly) for (const kind of BASELINES) baselines[kind] = await startBaselineChild(kind);
  const sizes: SizeResult[] = [];
  const baselineRssBytes: Partial<Record<BaselineKind, number>> = {};
  try {
    for (const size of opts.pgOnly ? [] : opts.sizes) {
      const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-bench-'));
      let server: (Child & { startupMs: number }) | undefined;
      const floors = new Map<string, Child>();
      try {
        log(`[${fmtSize(size)}] generating ${size} keys…`);
        const dataset = await generateDataset({ file: join(dir, 'bench.db'), keys: size, log });
        log(`[${fmtSize(size)}] ${dataset.rows} rows in ${(dataset.ms / 1000).toFixed(2)} s (${fmtInt(dataset.rows / (dataset.ms / 1000))} rows/s)`);
        const env = serverEnv(dir, dataset);
        const startupMs: number[] = [];
        for (let i = 0; i < opts.startups; i++) {
          const last = i === opts.startups - 1;
          const nodeArgs = last && opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${join(resolve(opts.cpuProfDir), `server-${size}`)}`] : [];
          const started = await startServerChild(env, nodeArgs);
          startupMs.push(started.startupMs);
          if (last) server = started;
          else await started.stop();
        }
        log(`[${fmtSize(size)}] start-up ${startupMs.map((ms) => `${Math.round(ms)} ms`).join(', ')}`);
        if (!server) throw new Error('no server');

        // One floor baseline per distinct set of pieces, reading this size's dataset (the server has it open too).
        for (const pieces of new Set(scenarios.map((sc) => sc.floor).filter((f): f is string => f !== undefined))) {
          floors.set(pieces, await startBaselineChild('hono-node', {
            BENCH_BASELINE_FLOOR: pieces, BENCH_BASELINE_DB: dataset.file, BENCH_BASELINE_LOG: join(dir, `floor-${floors.size}.log`),
          }));
        }

        const results: ScenarioResult[] = [];
        for (const scenario of scenarios) {
          const requests = scenario.requests(dataset);
          const first = requests[0] as Request;
          const probed = await probe(server.url, scenario, first);
          const result: ScenarioResult = { scenario: scenario.name, size, ...probed, runs: [] };
          if (scenario.createsPerCall) result.createsPerCall = scenario.createsPerCall;
          results.push(result);
          if (probed.status !== 'ok') {
            log(`[${fmtSize(size)}] ${scenario.name}: ${probed.status}${probed.detail ? ` — ${probed.detail}` : ''}`);
            continue;
          }
          const floor = scenario.floor === undefined ? undefined : floors.get(scenario.floor);
          const targets: [Target, string, number][] = [
            ...BASELINES.map((kind): [Target, string, number] => [kind, baselines[kind].url, baselines[kind].pid]),
            ...(floor ? [['floor', floor.url, floor.pid] as [Target, string, number]] : []),
            ['server', server.url, server.pid],
          ];
          if (opts.warmup > 0) {
            for (const [target, url, pid] of targets) await measure(target, url, pid, requests, opts, opts.warmup, scenario);
          }
          for (let run = 1; run <= opts.runs; run++) {
            const m = {} as Record<Target, Measurement>;
            for (const [target, url, pid] of targets) m[target] = await measure(target, url, pid, requests, opts, opts.duration, scenario);
            const equalRate = m.server.reqPerSec > 0
              ? await measure('hono-node', baselines['hono-node'].url, baselines['hono-node'].pid, requests, opts, opts.duration, scenario, m.server.reqPerSec)
              : undefined;
            result.runs.push({ run, server: m.server, raw: m.raw, hono: m.hono, 'hono-node': m['hono-node'], ...(equalRate ? { equalRate } : {}), ...(m.floor ? { floor: m.floor } : {}) });
            log(`[${fmtSize(size)}] ${scenario.name} #${run}: ${fmtInt(m.server.reqPerSec)} req/s, ${fmtUs(m.server.cpuUsPerReq)} µs CPU/req (${BASELINES.map((k) => `${k} ${fmtInt(m[k].reqPerSec)}, ${fmtUs(m[k].cpuUsPerReq)} µs`).join('; ')}; hono-node at the server's rate ${fmtUs(equalRate?.cpuUsPerReq)} µs${m.floor ? `; floor ${fmtInt(m.floor.reqPerSec)}, ${fmtUs(m.floor.cpuUsPerReq)} µs` : ''})`);
          }
        }
        sizes.push({ size, generationMs: dataset.ms, rows: dataset.rows, startupMs, peakRssBytes: peakRss(server.pid), scenarios: results });
      } finally {
        await server?.stop();
        for (const child of floors.values()) await child.stop();
        floors.clear();
        if (opts.cpuProfDir) log(`[${fmtSize(size)}] CPU profiles in ${join(resolve(opts.cpuProfDir), `server-${size}`)} (the main thread's file ends in .0.<n>.cpuprofile)`);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    for (const kind of opts.pgOnly ? [] : BASELINES) {
      const rss = peakRss(baselines[kind].pid);
      if (rss !== undefined) baselineRssBytes[kind] = rss;
      await baselines[kind].stop();
    }
  }
  let pg: PgBenchReport | undefined;
  let pgSkipped: string | undefined;
  if (opts.pg && !postgresBinDir()) {
    pgSkipped = 'PostgreSQL is not installed (apt-get install postgresql)';
    log(`[pg] skipped: ${pgSkipped}`);
  } else if (opts.pg) {
    pg = await runPgBench({ ...opts.pg, duration: opts.duration, connections: opts.connections, runs: opts.runs, warmup: opts.warmup,
      ...(opts.only ? { only: opts.only } : {}), log });
  }
  const report: BenchReport = { options: opts, serverCode, sizes, baselineRssBytes, ...(pg ? { pg } : {}), ...(pgSkipped ? { pgSkipped } : {}), markdown: '' };
  report.markdown = renderMarkdown(report);
  return report;
}

// ---------------------------------------------------------------------------------------------- rendering

function fmtSize(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtUs = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(0));
const fmtMs = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const fmtRatio = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const fmtMb = (b: number | undefined) => (b === undefined ? 'n/a' : `${Math.round(b / 1024 / 1024)} MB`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

function problems(m: Measurement): string[] {
  const out: string[] = [];
  if (m.non2xx) out.push(`${m.non2xx} non-2xx (${Object.entries(m.statusCodes).filter(([c]) => !c.startsWith('2')).map(([c, k]) => `${c}×${k}`).join(', ')})`);
  if (m.errors) out.push(`${m.errors} errors`);
  if (m.timeouts) out.push(`${m.timeouts} timeouts`);
  if (m.mismatches) out.push(`${m.mismatches} failed bodies`);
  return out;
}

/** Ratio of the server to a baseline within one run (median over runs). */
function medianRatio(s: ScenarioResult, base: BaselineKind): number {
  return median(s.runs.map((r) => r.server.reqPerSec / r[base].reqPerSec));
}

export function renderMarkdown(report: BenchReport): string {
  const o = report.options;
  const lines: string[] = [];
  if (o.pgOnly) return report.pg ? report.pg.markdown : `PostgreSQL not measured: ${report.pgSkipped ?? '?'}.`;
  lines.push(`Settings: ${o.connections} connections, ${o.duration} s per measurement, ${o.runs} run(s), ${o.warmup} s warm-up; load generator (autocannon) in the bench process, each server in its own process; the server runs ${report.serverCode === 'compiled' ? 'the compiled build (dist/)' : 'the sources through tsx'}.`);
  lines.push('');
  lines.push('| scenario | keys | run | req/s | p50 ms | p99 ms | raw node:http req/s | × raw | bare Hono req/s | × Hono | Hono, Node body req/s | × Hono/Node | CPU µs/req server / raw / Hono / Hono-Node | notes |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  const byScenario = new Map<string, ScenarioResult[]>();
  for (const size of report.sizes) for (const s of size.scenarios) byScenario.set(s.scenario, [...(byScenario.get(s.scenario) ?? []), s]);
  for (const [name, results] of byScenario) {
    for (const s of results) {
      const keys = fmtSize(s.size);
      if (s.status === 'not-implemented') {
        lines.push(`| ${name} | ${keys} | – | n/a (not implemented) | | | | | | | | | | |`);
        continue;
      }
      if (s.status === 'failed') {
        lines.push(`| ${name} | ${keys} | – | FAILED | | | | | | | | | | ${(s.detail ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 200)} |`);
        continue;
      }
      for (const r of s.runs) {
        const notes = problems(r.server).concat(...BASELINES.map((k) => problems(r[k]).map((p) => `${k}: ${p}`)));
        if (s.createsPerCall) notes.unshift(`${fmtInt(r.server.reqPerSec * s.createsPerCall)} keys created/s${s.probeMs !== undefined && r.run === 1 ? `; one unloaded call ${fmtMs(s.probeMs)} ms` : ''}`);
        lines.push(`| ${name} | ${keys} | ${r.run} | ${fmtInt(r.server.reqPerSec)} | ${fmtMs(r.server.p50)} | ${fmtMs(r.server.p99)} | ${fmtInt(r.raw.reqPerSec)} | ${fmtRatio(r.server.reqPerSec / r.raw.reqPerSec)} | ${fmtInt(r.hono.reqPerSec)} | ${fmtRatio(r.server.reqPerSec / r.hono.reqPerSec)} | ${fmtInt(r['hono-node'].reqPerSec)} | ${fmtRatio(r.server.reqPerSec / r['hono-node'].reqPerSec)} | ${[r.server, ...BASELINES.map((k) => r[k])].map((m) => fmtUs(m.cpuUsPerReq)).join(' / ')} | ${notes.join('; ')} |`);
      }
    }
  }
  lines.push('');
  for (const size of report.sizes) {
    const creates = size.scenarios.filter((s) => s.createsPerCall && s.status === 'ok');
    const created = creates.flatMap((s) => s.runs.map((r) => `run ${r.run}: ${fmtInt(r.server.reqPerSec * (s.createsPerCall ?? 0))}`));
    lines.push(`- **${fmtSize(size.size)} keys**: dataset ${fmtInt(size.rows)} rows in ${(size.generationMs / 1000).toFixed(2)} s `
      + `(${fmtInt(size.rows / (size.generationMs / 1000))} rows/s); start-up ${size.startupMs.map((ms) => `${Math.round(ms)}`).join(' / ')} ms `
      + `(median ${Math.round(median(size.startupMs))} ms); server peak RSS ${fmtMb(size.peakRssBytes)}`
      + (created.length ? `; /set created keys/s ${created.join(', ')}` : ''));
  }
  lines.push(`- Baselines peak RSS: raw node:http ${fmtMb(report.baselineRssBytes.raw)}, bare Hono ${fmtMb(report.baselineRssBytes.hono)}, Hono with the Node body ${fmtMb(report.baselineRssBytes['hono-node'])}.`);
  lines.push('');
  lines.push(...renderCpuSummary(report));
  lines.push('');
  lines.push(...renderTargets(report));
  if (report.pg || report.pgSkipped) {
    lines.push('', '### PostgreSQL', '');
    lines.push(report.pg ? report.pg.markdown : `Not measured: ${report.pgSkipped}.`);
  }
  return lines.join('\n');
}

/** A CPU ratio of one run: the server's CPU per answer over a baseline's (undefined without /proc). */
function cpuRatio(server: Measurement, base: Measurement | undefined): number | undefined {
  return server.cpuUsPerReq !== undefined && base?.cpuUsPerReq ? server.cpuUsPerReq / base.cpuUsPerReq : undefined;
}
const defined = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);

/** Median over runs of the server's CPU per answer against bare Hono with the Node body, at full load and at equal rate. */
export function cpuFigures(s: ScenarioResult): {
  server?: number; base?: number; ratio?: number; equalBase?: number; equalRatio?: number; floor?: number; floorRatio?: number; overFloor?: number;
} {
  const m = (xs: (number | undefined)[]) => { const d = defined(xs); return d.length ? median(d) : undefined; };
  return {
    server: m(s.runs.map((r) => r.server.cpuUsPerReq)),
    base: m(s.runs.map((r) => r['hono-node'].cpuUsPerReq)),
    ratio: m(s.runs.map((r) => cpuRatio(r.server, r['hono-node']))),
    equalBase: m(s.runs.map((r) => r.equalRate?.cpuUsPerReq)),
    equalRatio: m(s.runs.map((r) => cpuRatio(r.server, r.equalRate))),
    floor: m(s.runs.map((r) => r.floor?.cpuUsPerReq)),
    floorRatio: m(s.runs.map((r) => (r.floor ? cpuRatio(r.floor, r['hono-node']) : undefined))),
    overFloor: m(s.runs.map((r) => cpuRatio(r.server, r.floor))),
  };
}

/**
 * The load-generator-independent summary: CPU time per answered request (from /proc), the server against bare Hono
 * reading the body from Node, medians of the runs; once with both at full load (the issue's targets), once with the
 * baseline held to the server's own rate.
 */
function renderCpuSummary(report: BenchReport): string[] {
  const lines = ['**CPU per answered request** (µs, median of runs; ratio = server ÷ bare Hono with the Node body, per run, then the median; '
    + 'floor = bare Hono doing only the work the product requires of these requests, bench/floor.ts, its ratio to bare Hono, and the server ÷ floor):', '',
    '| scenario | keys | server | Hono/Node, full load | ratio | Hono/Node at the server\'s rate | ratio at equal rate | floor | floor ratio | server ÷ floor |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  const f = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toFixed(digits));
  for (const size of report.sizes) {
    for (const s of size.scenarios) {
      if (s.status !== 'ok' || s.createsPerCall) continue;
      const c = cpuFigures(s);
      lines.push(`| ${s.scenario} | ${fmtSize(s.size)} | ${f(c.server)} | ${f(c.base)} | ${f(c.ratio, 2)} | ${f(c.equalBase)} | ${f(c.equalRatio, 2)} | ${f(c.floor)} | ${f(c.floorRatio, 2)} | ${f(c.overFloor, 2)} |`);
    }
  }
  return lines;
}

function renderTargets(report: BenchReport): string[] {
  const rows: [string, string, boolean | undefined][] = [];
  const find = (size: SizeResult, prefix: string) => size.scenarios.find((s) => s.scenario.startsWith(prefix) && s.status === 'ok');
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : '**missed**');
  for (const size of report.sizes) {
    const k = fmtSize(size.size);
    // Issue 16: CPU per answered request, server ÷ bare Hono with the Node body, same run, both at full load.
    for (const [prefix, max] of [['Core/echo', 1.3], ['x:ApiKey/get (Bearer)', 1.6], ['verification (introspect)', 1.3], ['x:ApiKey/query', 2.5]] as const) {
      const s = find(size, prefix);
      const c = s ? cpuFigures(s) : undefined;
      rows.push([`${prefix}: CPU/request ≤ ${max} × bare Hono (Node body) at ${k}`, c?.ratio === undefined ? '–'
        : `${fmtRatio(c.ratio)} × (${fmtUs(c.server)} against ${fmtUs(c.base)} µs; at equal rate ${fmtRatio(c.equalRatio ?? NaN)} ×${c.floorRatio === undefined ? '' : `; the required work alone ${fmtRatio(c.floorRatio)} ×`})`, c?.ratio === undefined ? undefined : c.ratio <= max]);
    }
  }
  const small = report.sizes[0];
  const large = report.sizes[report.sizes.length - 1];
  if (small && large && large !== small) {
    const q0 = find(small, 'x:ApiKey/query');
    const q1 = find(large, 'x:ApiKey/query');
    if (q0 && q1) {
      const rel = medianRatio(q1, 'raw') / medianRatio(q0, 'raw');
      rows.push([`x:ApiKey/query at ${fmtSize(large.size)} ≥ 0.8 × its ${fmtSize(small.size)} figure`, `${fmtRatio(rel)} (ratios to raw compared, so machine drift between sizes cancels)`, rel >= 0.8]);
    }
  }
  if (large) {
    const k = fmtSize(large.size);
    const set = find(large, 'x:ApiKey/set');
    const perSec = set ? median(set.runs.map((r) => r.server.reqPerSec * (set.createsPerCall ?? 0))) : undefined;
    rows.push([`/set ≥ 15,000 created keys/s with ${k} stored`, perSec === undefined ? '–' : `${fmtInt(perSec)} keys/s (median of runs)`, perSec === undefined ? undefined : perSec >= 15_000]);
    rows.push([`peak RSS < 200 MB with ${k} keys`, fmtMb(large.peakRssBytes), large.peakRssBytes === undefined ? undefined : large.peakRssBytes < 200 * 1024 * 1024]);
    const start = median(large.startupMs);
    rows.push([`start-up < 1 s with ${k} keys`, `${Math.round(start)} ms (median)`, start < 1000]);
  }
  return ['| target | measured | verdict |', '|---|---|---|', ...rows.map(([t, m, ok]) => `| ${t} | ${m} | ${verdict(ok)} |`)];
}

// ---------------------------------------------------------------------------------------------- command line

function parseSizes(text: string): number[] {
  return text.split(',').map((s) => {
    const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
    if (!m) throw new Error(`bad size ${s}`);
    const mult = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6 }[m[2] as string] ?? 1;
    return Math.round(Number(m[1]) * mult);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      startups: { type: 'string' },
      only: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      'pg-keys': { type: 'string' },
      'pg-trials': { type: 'string' },
      'no-pg': { type: 'boolean', default: false },
      'pg-only': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: npm run bench -- [--sizes 10k,1M] [--duration 5] [--connections 10] [--runs 2] [--warmup 1]
                       [--startups 3] [--only echo,query] [--cpu-prof DIR] [--smoke] [--list]
                       [--pg-keys 100k] [--pg-trials 20] [--no-pg] [--pg-only]`);
    return;
  }
  if (values.list) {
    for (const s of SCENARIOS) console.log(`${s.name}: ${s.measures}`);
    return;
  }
  const base = values.smoke ? SMOKE : DEFAULTS;
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  const opts: BenchOptions = {
    sizes: values.sizes ? parseSizes(values.sizes) : base.sizes,
    duration: num(values.duration, base.duration),
    connections: num(values.connections, base.connections),
    runs: num(values.runs, base.runs),
    warmup: num(values.warmup, base.warmup),
    startups: num(values.startups, base.startups),
    ...(values.only ? { only: values.only.split(',') } : {}),
    ...(values['cpu-prof'] ? { cpuProfDir: values['cpu-prof'] } : {}),
  };
  const pgKeys = values['pg-keys'] ?? (values['pg-only'] && !base.pg ? String(PG_DEFAULTS.keys) : undefined);
  if (values['no-pg']) delete opts.pg;
  else if (pgKeys !== undefined || values['pg-trials'] !== undefined || values['pg-only']) {
    opts.pg = { keys: pgKeys ? (parseSizes(pgKeys)[0] as number) : (base.pg?.keys ?? PG_DEFAULTS.keys), trials: num(values['pg-trials'], base.pg?.trials ?? PG_DEFAULTS.trials) };
  } else if (base.pg) opts.pg = base.pg;
  if (values['pg-only']) opts.pgOnly = true;
  const report = await runBench(opts);
  console.log(report.markdown);
  const failed = report.sizes.flatMap((s) => s.scenarios).filter((s) => s.status === 'failed');
  if (failed.length > 0 || report.pg?.scenarios.some((s) => s.status === 'failed')) process.exitCode = 1;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exit(1);
  });
}
