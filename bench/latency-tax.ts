/**
 * `npx tsx bench/latency-tax.ts` — how much of the server's CPU per request is its own work, and how much the kernel
 * charges it for answering late.
 *
 * Three processes answer the same authenticated Core/echo (or `--scenario`) at the same fixed rate, alternating, each for
 * `--duration` seconds per run: bare Hono with the Node body (the baseline every ratio divides by), the same
 * baseline spinning `--spin` µs of pure JavaScript before every answer (no extra system call), and the server.
 * For each, user and system CPU per answered request from /proc. On loopback the answer's write() delivers it to
 * the load generator and wakes it when it sleeps; a process that answers later finds it asleep more often and pays
 * that wake-up. If the spinning baseline's system time rises as far as the server's, the server's extra system
 * time is that latency tax, not system calls of its own. Findings: bench/README.md, round 6.
 *
 * `--floors "log;log,metrics,auth,envelope"` adds baselines doing the product's required per-request work
 * (bench/floor.ts), and `--rate 0` loads every process at full load as the bench's ratios do: what such a floor costs
 * against bare Hono is the best ratio the server could reach while doing that work (round 7).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuSplitMs, startBaselineChild, startServerChild, type Child } from './child.js';
import { BENCH_SECRET, generateDataset } from './dataset.js';
import { SCENARIOS } from './scenarios.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '15000' },
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    spin: { type: 'string', default: '25' },
    floors: { type: 'string', default: '' },
    scenario: { type: 'string', default: 'Core/echo' },
    keys: { type: 'string', default: '10000' },
  },
});
const rate = Number(values.rate);
const duration = Number(values.duration);
const runs = Number(values.runs);
const spinUs = Number(values.spin);
// `--floors "log;log,metrics,auth,envelope"`: baselines doing that required per-request work (bench/floor.ts).
const floors = values.floors.split(';').map((f) => f.trim()).filter(Boolean);

const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-tax-'));
const file = join(dir, 'bench.db');
const dataset = await generateDataset({ file, keys: Number(values.keys), log: () => {} });
const serverDb = join(dir, 'server.db');
copyFileSync(file, serverDb);
const scenario = SCENARIOS.find((s) => s.name === values.scenario);
if (!scenario) throw new Error(`no scenario ${values.scenario} (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
const requests = scenario.requests({ ...dataset, file: serverDb });

const targets: { name: string; start: () => Promise<Child> }[] = [
  { name: 'bare Hono (Node body)', start: () => startBaselineChild('hono-node') },
  ...(spinUs > 0 ? [{ name: `bare Hono + ${spinUs} µs spin`, start: () => startBaselineChild('hono-node', { BENCH_BASELINE_SPIN_US: String(spinUs) }) }] : []),
  // Their log lines go to a file beside the server's, as the server's do.
  ...floors.map((f, i) => ({
    name: `bare Hono + ${f.replaceAll(',', ' + ')}`,
    // The read piece reads the dataset file itself (the server has its own copy).
    start: () => startBaselineChild('hono-node', { BENCH_BASELINE_FLOOR: f, BENCH_BASELINE_LOG: join(dir, `floor-${i}.log`), BENCH_BASELINE_DB: file }),
  })),
  {
    name: 'server',
    start: () => startServerChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_DB: serverDb, JMAP_KEYS_SECRET: BENCH_SECRET }),
  },
];
const rows = new Map<string, { user: number; system: number; reqPerSec: number }[]>();
try {
  const children = await Promise.all(targets.map((t) => t.start()));
  for (const child of children) await autocannon({ url: child.url, connections: 10, duration: 1, requests });
  for (let run = 0; run < runs; run++) {
    const forward = targets.map((_, i) => i);
    const order = run % 2 === 0 ? forward : forward.reverse();
    for (const i of order) {
      const child = children[i] as Child;
      const name = (targets[i] as (typeof targets)[number]).name;
      const before = cpuSplitMs(child.pid);
      const r = await autocannon({ url: child.url, connections: 10, duration, requests, ...(rate > 0 ? { overallRate: rate } : {}) });
      const after = cpuSplitMs(child.pid);
      if (!before || !after || r['2xx'] === 0 || r.non2xx > 0) throw new Error(`${name}: no CPU figures, no answers or refused answers (${r.non2xx})`);
      const perReq = (ms: number) => (ms * 1000) / r['2xx'];
      const list = rows.get(name) ?? [];
      list.push({ user: perReq(after.user - before.user), system: perReq(after.system - before.system), reqPerSec: r['2xx'] / r.duration });
      rows.set(name, list);
      console.error(`run ${run + 1}: ${name}: ${Math.round(r['2xx'] / r.duration)} req/s`);
    }
  }
  await Promise.all(children.map((c) => c.stop()));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(`${scenario.name} (${values.keys} keys) at ${rate > 0 ? `${rate} req/s` : 'full load'}, ${runs} runs of ${duration} s, CPU per answered request (median of runs; ratio to bare Hono per run, then the median):\n`);
console.log('| process | req/s | user µs | system µs | total µs | × bare Hono |');
console.log('|---|---:|---:|---:|---:|---:|');
const bare = rows.get('bare Hono (Node body)') ?? [];
for (const [name, list] of rows) {
  const user = median(list.map((x) => x.user));
  const system = median(list.map((x) => x.system));
  const ratio = median(list.map((x, i) => (x.user + x.system) / ((bare[i]?.user ?? NaN) + (bare[i]?.system ?? NaN))));
  console.log(`| ${name} | ${Math.round(median(list.map((x) => x.reqPerSec)))} | ${user.toFixed(1)} | ${system.toFixed(1)} | ${(user + system).toFixed(1)} | ${ratio.toFixed(2)} |`);
}
