/**
 * Load on one or several server processes at once (bench/pg.ts, bench/seam.ts): one autocannon instance per node,
 * the connections split between them, all started together, each node's CPU time (/proc) over the measurement,
 * plus optionally the CPU time of another set of processes (the PostgreSQL cluster) over the same window.
 */
import autocannon, { type Request, type Result } from 'autocannon';
import { cpuMs } from './child.js';
import type { Scenario } from './scenarios.js';

export interface LoadNode {
  url: string;
  pid: number;
}

export interface NodeLoad {
  reqPerSec: number;
  ok: number;
  /** This process's CPU time per 2xx answer it gave, in µs. */
  cpuUsPerReq?: number;
  problems: string[];
}

export interface LoadResult {
  /** 2xx answers per second over all nodes. */
  reqPerSec: number;
  p50: number;
  p99: number;
  ok: number;
  nodes: NodeLoad[];
  /** CPU time of the extra processes (e.g. PostgreSQL) per 2xx answer over all nodes, in µs. */
  extraCpuUsPerReq?: number;
  problems: string[];
}

const percentile = (sorted: Float64Array, p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number);

/**
 * Every 2xx response time of one or several autocannon instances (autocannon's own histogram has whole-millisecond
 * buckets): `record` is their 'response' listener, `percentiles` the p50 and p99 at the end.
 */
export function latencyRecorder(): { record: (client: unknown, status: number, bytes: number, ms: number) => void; percentiles: () => { p50: number; p99: number } } {
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  return {
    record(_client, status, _bytes, ms) {
      if (status < 200 || status >= 300) return;
      if (n === latencies.length) {
        const bigger = new Float64Array(n * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[n++] = ms;
    },
    percentiles() {
      const sorted = latencies.subarray(0, n).sort();
      return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
    },
  };
}

function problemsOf(r: Result): string[] {
  const out: string[] = [];
  if (r.non2xx) out.push(`${r.non2xx} non-2xx (${Object.entries(r.statusCodeStats).filter(([c]) => !c.startsWith('2')).map(([c, s]) => `${c}×${s.count}`).join(', ')})`);
  if (r.errors) out.push(`${r.errors} errors`);
  if (r.timeouts) out.push(`${r.timeouts} timeouts`);
  if (r.mismatches) out.push(`${r.mismatches} failed bodies`);
  return out;
}

/** Runs `duration` seconds of load split over `nodes`; latency percentiles over every 2xx answer of all nodes. */
export async function loadNodes(nodes: LoadNode[], requests: Request[], scenario: Scenario, connections: number, duration: number,
  extraCpuMs?: () => number | undefined): Promise<LoadResult> {
  const latency = latencyRecorder();
  const cpu0 = nodes.map((node) => cpuMs(node.pid));
  const extra0 = extraCpuMs?.();
  const runs = nodes.map((node, i) => {
    const share = Math.floor(connections / nodes.length) + (i < connections % nodes.length ? 1 : 0);
    const instance = autocannon({
      url: node.url,
      connections: Math.max(1, share),
      duration,
      timeout: 30,
      requests,
      ...(scenario.verifyBody ? { verifyBody: scenario.verifyBody } : {}),
    });
    instance.on('response', latency.record);
    return instance;
  });
  const results = await Promise.all(runs);
  const cpu1 = nodes.map((node) => cpuMs(node.pid));
  const extra1 = extraCpuMs?.();
  const perNode: NodeLoad[] = results.map((r, i) => {
    const c0 = cpu0[i];
    const c1 = cpu1[i];
    return {
      reqPerSec: r.duration > 0 ? r['2xx'] / r.duration : 0,
      ok: r['2xx'],
      ...(c0 !== undefined && c1 !== undefined && r['2xx'] > 0 ? { cpuUsPerReq: ((c1 - c0) * 1000) / r['2xx'] } : {}),
      problems: problemsOf(r),
    };
  });
  const ok = perNode.reduce((s, x) => s + x.ok, 0);
  return {
    reqPerSec: perNode.reduce((s, x) => s + x.reqPerSec, 0),
    ...latency.percentiles(),
    ok,
    nodes: perNode,
    ...(extra0 !== undefined && extra1 !== undefined && ok > 0 ? { extraCpuUsPerReq: ((extra1 - extra0) * 1000) / ok } : {}),
    problems: perNode.flatMap((x, i) => x.problems.map((p) => (nodes.length > 1 ? `node ${i + 1}: ${p}` : p))),
  };
}
