import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasDovecot = spawnSync('dovecot', ['--version']).status === 0;

export interface Dovecot {
  imapPort: number;
  pop3Port: number;
  submissionPort: number;
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

/**
 * Starts Debian's Dovecot in the foreground on loopback high ports, with a generated config in a temporary
 * folder whose passdb is `oauth2` in post mode against `introspectionUrl` (which carries the Basic credentials).
 */
export async function startDovecot(introspectionUrl: string, basePort: number): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-dovecot-'));
  chmodSync(dir, 0o755); // the mail processes run as the dovecot user and must reach their home below
  const mail = join(dir, 'mail');
  mkdirSync(mail);
  const owner = uidOf('dovecot');
  chownSync(mail, owner.uid, owner.gid);
  const [imapPort, pop3Port, submissionPort, relayPort] = [basePort, basePort + 1, basePort + 2, basePort + 3];
  writeFileSync(join(dir, 'oauth2.conf.ext'), [
    'introspection_mode = post',
    `introspection_url = ${introspectionUrl}`,
    'username_attribute = username',
    'active_attribute = active',
    'active_value = true',
    'send_auth_headers = yes',
    'timeout_msecs = 5000',
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'dovecot.conf'), `
protocols = imap pop3 submission
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = jmap-keys-test-${basePort}
log_path = ${dir}/dovecot.log
auth_verbose = yes
auth_failure_delay = 0
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = ${owner.uid}
passdb {
  driver = oauth2
  args = ${dir}/oauth2.conf.ext
}
userdb {
  driver = static
  args = uid=${owner.uid} gid=${owner.gid} home=${mail}/%u
}
mail_location = maildir:~/Maildir
submission_relay_host = 127.0.0.1
submission_relay_port = ${relayPort}
hostname = mail.test
service imap-login {
  inet_listener imap {
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${pop3Port}
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = ${submissionPort}
  }
}
`);
  const child: ChildProcess = spawn('dovecot', ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  const log = () => {
    const file = spawnSync('cat', [join(dir, 'dovecot.log')], { encoding: 'utf8' }).stdout ?? '';
    return `${output}\n${file}`;
  };
  try {
    await Promise.all([waitForPort(imapPort, 15_000), waitForPort(pop3Port, 15_000), waitForPort(submissionPort, 15_000)]);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`dovecot did not start: ${(err as Error).message}\n${log()}`);
  }
  return {
    imapPort, pop3Port, submissionPort, dir, log,
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
 * A line-oriented client for IMAP, POP3 and SMTP dialogues: send a line, wait for a reply matching a pattern.
 * Each dialogue comes from its own loopback address (127.0.0.10, .11, …): Dovecot slows down repeated failed
 * logins per client address, and the negative cases would otherwise wait on that penalty.
 */
export async function dialogue(port: number, steps: { send?: string; expect: RegExp }[]): Promise<string[]> {
  const localAddress = `127.0.0.${nextSource}`;
  nextSource = nextSource >= 250 ? 10 : nextSource + 1;
  const socket = connect({ port, host: '127.0.0.1', localAddress });
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
