/** Child processes for the benchmark: the server under test and the baselines, with start-up time and peak RSS. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { freePort } from '../test/helpers/child.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

/** The repository root: children run from here so `--import tsx` and `bin/server.js` resolve. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Child {
  proc: ChildProcess;
  pid: number;
  url: string;
  /** Last lines of the child's stderr, for error reports. */
  stderrTail(): string;
  stop(): Promise<void>;
}


function launch(args: string[], env: NodeJS.ProcessEnv, url: string, onStdout?: (line: string) => void, cwd = ROOT, stdoutFile?: string): Child {
  // A server's log lines go to a file, as `npm start >> jmap-keys.log` would: through a pipe they would be read by
  // the bench process, which is also the load generator.
  if (stdoutFile !== undefined) mkdirSync(dirname(stdoutFile), { recursive: true, mode: 0o700 });
  const out = stdoutFile === undefined ? 'pipe' : openSync(stdoutFile, 'a');
  const proc = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', out, 'pipe'] });
  if (typeof out === 'number') closeSync(out);
  if (proc.pid === undefined) throw new Error(`could not spawn ${args.join(' ')}`);
  let tail = '';
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => { tail = (tail + s).slice(-4000); });
  let buffered = '';
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => {
    buffered += s;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      onStdout?.(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  const exited = new Promise<void>((done) => proc.once('exit', () => done()));
  return {
    proc,
    pid: proc.pid,
    url,
    stderrTail: () => tail,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * Starts `node bin/server.js` (what `npm start` runs: the compiled build when dist/ is up to date, see
 * bin/launch.js) and resolves once `GET /healthz` answers 200. `startupMs` is spawn → first successful /healthz.
 * `root` is the source tree to run (another commit's, for bench/seam.ts); this repository by default.
 */
export async function startServerChild(env: Record<string, string>, nodeArgs: string[] = [], root = ROOT): Promise<Child & { startupMs: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  // Beside the database when the bench gives one (removed with it), else in the OS temp folder.
  const logFile = join(env.JMAP_KEYS_DATA ?? tmpdir(), `server-${port}.log`);
  const child = launch([...nodeArgs, 'bin/server.js'], {
    ...process.env, ...env, JMAP_KEYS_HOST: '127.0.0.1', JMAP_KEYS_PORT: String(port),
  }, url, undefined, root, logFile);
  let exited = false;
  child.proc.once('exit', () => { exited = true; });
  for (;;) {
    if (exited) throw new Error(`the server exited during start-up:\n${child.stderrTail()}`);
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > 60_000) {
      await child.stop();
      throw new Error(`the server did not answer /healthz within 60 s:\n${child.stderrTail()}`);
    }
    await sleep(5);
  }
  return { ...child, startupMs: performance.now() - t0 };
}

/** Starts a baseline child (`bench/baselines.ts raw|hono|hono-node`); resolves when it prints its port. */
export function startBaselineChild(kind: 'raw' | 'hono' | 'hono-node', env: Record<string, string> = {}): Promise<Child> {
  return new Promise((done, fail) => {
    // The callbacks below run asynchronously, after `child` is assigned.
    const child: Child = launch(['--import', 'tsx', 'bench/baselines.ts', kind], { ...process.env, ...env }, '', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        done({ ...child, url: `http://127.0.0.1:${m[1]}` });
      }
    });
    const timer = setTimeout(() => fail(new Error(`baseline ${kind} did not start:\n${child.stderrTail()}`)), 30_000);
    child.proc.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`baseline ${kind} exited with ${code}:\n${child.stderrTail()}`));
    });
  });
}

/** Peak resident set size (VmHWM) of a live process in bytes, or undefined where /proc is not available. */
export function peakRss(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system) a live process has used so far, in milliseconds, or undefined without /proc. The
 * difference over a measurement divided by the requests served is the process's own cost per request, which unlike
 * req/s does not depend on whether the load generator or the server is the bottleneck.
 */
export function cpuMs(pid: number): number | undefined {
  const cpu = cpuSplitMs(pid);
  return cpu === undefined ? undefined : cpu.user + cpu.system;
}
/** User and system CPU time of a live process so far, in milliseconds (the two parts of cpuMs). */
export function cpuSplitMs(pid: number): { user: number; system: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: (Number(fields[11]) * 1000) / CLOCK_TICKS, system: (Number(fields[12]) * 1000) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS = 100;
