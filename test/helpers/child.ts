import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A real `node bin/server.js` (what `npm start` runs), its output kept for the test to read. */
export interface ServerChild {
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr apart. */
  stdout(): string;
  stderr(): string;
  /** Exit code once it has exited (null while running). */
  exited: Promise<number | null>;
  /** Resolves when `text` appears on stdout or stderr (or rejects when the process exits first). */
  waitFor(text: string): Promise<void>;
  /** The stdout lines that are JSON objects (the log lines). */
  logLines(): Record<string, unknown>[];
}

/** A free loopback port, asked of the kernel (the tiny race before a child binds it is acceptable on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts the server with `env` on top of the caller's; `wrap` runs it under another command (e.g. setpriv). */
export function startChild(env: Record<string, string>, wrap: string[] = []): ServerChild {
  const command = wrap.length > 0 ? (wrap[0] as string) : process.execPath;
  const args = wrap.length > 0 ? [...wrap.slice(1), process.execPath, 'bin/server.js'] : ['bin/server.js'];
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JMAP_KEYS_')));
  const child = spawn(command, args, { env: { ...clean, JMAP_KEYS_LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (out.includes(w.text) || err.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); check(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); check(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`server exited (${code}) before printing "${w.text}":\n${out}\n${err}`));
    resolve(code);
  }));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (text) => new Promise((resolve, reject) => {
      waiters.push({ text, resolve, reject });
      check();
      if (child.exitCode !== null) reject(new Error(`server exited (${child.exitCode}):\n${out}\n${err}`));
    }),
    logLines: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** SIGTERM, then the exit code. */
export async function stopChild(s: ServerChild): Promise<number | null> {
  if (s.child.exitCode === null) s.child.kill('SIGTERM');
  return s.exited;
}

/** Runs `node bin/jmap-keys.js …` with `env` on top of the caller's environment (minus its JMAP_KEYS_*). */
export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JMAP_KEYS_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/jmap-keys.js', ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
