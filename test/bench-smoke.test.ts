import { describe, expect, it } from 'vitest';
import { runBench, SMOKE } from '../bench/run.js';

/**
 * Keeps the benchmark suite from rotting: the smoke mode (a tiny dataset, 1 s per measurement, one run) must
 * get answers from every implemented scenario, all successful. No timing assertions: the numbers depend on
 * the machine.
 */
describe('benchmark smoke run', () => {
  it('runs every scenario against the real server and both baselines without a failed request', { timeout: 120_000 }, async () => {
    const report = await runBench({ ...SMOKE, log: () => {} });
    expect(report.sizes).toHaveLength(1);
    const scenarios = report.sizes[0]?.scenarios ?? [];
    const failed = scenarios.filter((s) => s.status === 'failed').map((s) => `${s.scenario}: ${s.detail ?? ''}`);
    expect(failed).toEqual([]);
    const measured = scenarios.filter((s) => s.status === 'ok');
    // The JMAP scenarios exist from the start; the REST list and verification join once their routes answer.
    for (const name of ['Core/echo', 'x:ApiKey/get (Bearer)', 'x:ApiKey/get (Basic)', 'x:ApiKey/query', 'x:ApiKey/set']) {
      expect(measured.map((s) => s.scenario).some((n) => n.startsWith(name)), name).toBe(true);
    }
    for (const s of measured) {
      expect(s.runs.length, s.scenario).toBe(1);
      for (const run of s.runs) {
        // The baseline held to the server's rate answered too (the equal-rate CPU figure).
        expect(run.equalRate?.ok, `${s.scenario} at equal rate`).toBeGreaterThan(0);
        // Scenarios with a floor (bench/floor.ts) measured it, with the same requests, all answered.
        const withFloor = ['Core/echo', 'x:ApiKey/get (Bearer)', 'x:ApiKey/query', 'verification (introspect)'].includes(s.scenario);
        expect(run.floor !== undefined, `${s.scenario} floor`).toBe(withFloor);
        for (const m of [run.server, run.raw, run.hono, run['hono-node'], ...(run.floor ? [run.floor] : [])]) {
          const where = `${s.scenario} on ${m.target}`;
          expect(m.ok, where).toBeGreaterThan(0);
          expect(m.non2xx, where).toBe(0);
          expect(m.errors, where).toBe(0);
          expect(m.mismatches, where).toBe(0);
        }
      }
    }
    expect(report.markdown).toContain('| scenario | keys | run |');
    // The summary gives CPU per answered request against bare Hono, at full load and at equal rate, per scenario.
    expect(report.markdown).toContain('**CPU per answered request**');
    expect(report.markdown).toMatch(/\| Core\/echo \| 200 \| \d+ \| \d+ \| \d+\.\d\d \| \d+ \| \d+\.\d\d \| \d+ \| \d+\.\d\d \| \d+\.\d\d \|/);
  });
});
