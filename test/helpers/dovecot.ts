import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasDovecot = spawnSync('dovecot', ['--version']).status === 0;

export interface Dovecot {
  /** Plain ports (STARTTLS) and implicit-TLS ports, as in docs/dovecot.md but moved. */
  imap: number;
  imaps: number;
  pop3: number;
  pop3s: number;
  submission: number;
  submissions: number;
  relay: number;
  dir: string;
  log: () => string;
  stop(): Promise<void>;
}

function uidOf(user: string): { uid: number; gid: number } {
  const out = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  return { uid: Number(out.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Waits until a TCP port on 127.0.0.1 accepts connections. */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} did not open`);
}

/** The fenced block of docs/dovecot.md whose info string names `file`. */
export function docBlock(file: string): string {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/dovecot.md', import.meta.url)), 'utf8');
  const m = new RegExp(`^\`\`\`conf file=${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\n([\\s\\S]*?)^\`\`\`$`, 'm').exec(doc);
  if (!m) throw new Error(`docs/dovecot.md has no block for ${file}`);
  return m[1] as string;
}

/** Replaces each `from` exactly once: if the doc changes under the test, the test says where. */
function substitute(text: string, pairs: [string, string][], what: string): string {
  let out = text;
  for (const [from, to] of pairs) {
    const n = out.split(from).length - 1;
    if (n !== 1) throw new Error(`expected "${from}" once in ${what} of docs/dovecot.md, found ${n} times`);
    out = out.replace(from, to);
  }
  return out;
}

/**
 * Starts Debian's Dovecot in the foreground with the configuration of docs/dovecot.md as written there; only
 * what must differ on a test machine is moved: ports (to basePort…basePort+6), listen address, paths under a
 * temporary folder, a throw-away certificate, and the introspection URL (which carries the Basic credentials).
 * Prepended: where the instance keeps its sockets and log, and no delay after failed logins.
 */
export async function startDovecot(introspectionUrl: string, basePort: number): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-dovecot-'));
  chmodSync(dir, 0o755); // the mail processes run as the mail user and must reach their home below
  const vhosts = join(dir, 'vhosts');
  mkdirSync(vhosts);
  const owner = uidOf('mail');
  chownSync(vhosts, owner.uid, owner.gid);
  chmodSync(vhosts, 0o700);
  const tls = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=mail.test',
    '-keyout', join(dir, 'privkey.pem'), '-out', join(dir, 'fullchain.pem')], { encoding: 'utf8' });
  if (tls.status !== 0) throw new Error(`openssl failed: ${tls.stderr}`);
  const ports = { imap: basePort, imaps: basePort + 1, pop3: basePort + 2, pop3s: basePort + 3, submission: basePort + 4, submissions: basePort + 5, relay: basePort + 6 };

  writeFileSync(join(dir, 'oauth2.conf.ext'), substitute(docBlock('/etc/dovecot/dovecot-oauth2.conf.ext'), [
    ['http://admin:rm_THE_INTERNAL_KEY@127.0.0.1:8080/internal/introspect', introspectionUrl],
  ], 'dovecot-oauth2.conf.ext'), { mode: 0o600 });
  const conf = substitute(docBlock('/etc/dovecot/dovecot.conf'), [
    ['listen = *, ::', 'listen = 127.0.0.1'],
    ['</etc/dovecot/tls/fullchain.pem', `<${dir}/fullchain.pem`],
    ['</etc/dovecot/tls/privkey.pem', `<${dir}/privkey.pem`],
    ['args = /etc/dovecot/dovecot-oauth2.conf.ext', `args = ${dir}/oauth2.conf.ext`],
    ['home=/var/mail/vhosts/%u', `home=${vhosts}/%u`],
    ['submission_relay_port = 25', `submission_relay_port = ${ports.relay}`],
    ['port = 143', `port = ${ports.imap}`],
    ['port = 993', `port = ${ports.imaps}`],
    ['port = 110', `port = ${ports.pop3}`],
    ['port = 995', `port = ${ports.pop3s}`],
    ['port = 587', `port = ${ports.submission}`],
    ['port = 465', `port = ${ports.submissions}`],
  ], 'dovecot.conf');
  writeFileSync(join(dir, 'dovecot.conf'), [
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `instance_name = jmap-keys-test-${basePort}`,
    `log_path = ${dir}/dovecot.log`,
    'auth_verbose = yes',
    'auth_failure_delay = 0',
    conf,
  ].join('\n'));
  const child: ChildProcess = spawn('dovecot', ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  const log = () => {
    const file = spawnSync('cat', [join(dir, 'dovecot.log')], { encoding: 'utf8' }).stdout ?? '';
    return `${output}\n${file}`;
  };
  try {
    await Promise.all([ports.imaps, ports.pop3s, ports.submissions].map((p) => waitForPort(p, 15_000)));
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`dovecot did not start: ${(err as Error).message}\n${log()}`);
  }
  return {
    ...ports, dir, log,
    stop: () => new Promise<void>((resolve) => {
      child.on('exit', () => {
        rmSync(dir, { recursive: true, force: true });
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}

let nextSource = 10;

/**
 * The mail side of a test: Dovecot on ports from `basePort`, asking the jmap-keys server at `serverUrl` (as `admin`
 * with the `internal` app password `internalKey`), and a stand-in SMTP relay behind its submission service.
 */
export async function startMailPeers(serverUrl: string, internalKey: string, basePort: number): Promise<{ dovecot: Dovecot; stop(): Promise<void> }> {
  const relay = createServer((sock) => {
    sock.write('220 relay.test ESMTP\r\n');
    sock.on('data', () => sock.write('250 ok\r\n'));
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(basePort + 6, '127.0.0.1', () => resolve());
  });
  const url = new URL('/internal/introspect', serverUrl);
  url.username = 'admin';
  url.password = internalKey;
  let dovecot: Dovecot;
  try {
    dovecot = await startDovecot(url.toString(), basePort);
  } catch (err) {
    relay.close();
    throw err;
  }
  return {
    dovecot,
    async stop() {
      await dovecot.stop();
      relay.close();
    },
  };
}

/**
 * A line-oriented client for IMAP, POP3 and SMTP dialogues (plain, or implicit TLS with `tls`): send a line, wait for a reply matching a pattern.
 * Each dialogue comes from its own loopback address (127.0.0.10, .11, …): Dovecot slows down repeated failed
 * logins per client address, and the negative cases would otherwise wait on that penalty.
 */
export async function dialogue(port: number, steps: { send?: string; expect: RegExp }[], tls = false): Promise<string[]> {
  const localAddress = `127.0.0.${nextSource}`;
  nextSource = nextSource >= 250 ? 10 : nextSource + 1;
  // Implicit TLS (the doc's imaps, pop3s, submissions) with the test's self-signed certificate.
  const socket = tls
    ? tlsConnect({ socket: connect({ port, host: '127.0.0.1', localAddress }), rejectUnauthorized: false })
    : connect({ port, host: '127.0.0.1', localAddress });
  let buffer = '';
  const replies: string[] = [];
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => { buffer += d; });
  const waitFor = (re: RegExp) => new Promise<string>((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const m = re.exec(buffer);
      if (m) {
        const upTo = buffer.slice(0, m.index + m[0].length);
        buffer = buffer.slice(m.index + m[0].length);
        resolve(upTo);
      } else if (Date.now() - started > 10_000) reject(new Error(`timed out waiting for ${re}; got ${JSON.stringify(buffer)}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
  try {
    for (const step of steps) {
      if (step.send !== undefined) socket.write(`${step.send}\r\n`);
      replies.push(await waitFor(step.expect));
    }
  } finally {
    socket.destroy();
  }
  return replies;
}
