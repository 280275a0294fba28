import type { Child, FC } from 'hono/jsx';
import { LIMITS } from '../credentials/contract.js';
import { ALL_PERMISSIONS } from '../auth/permissions.js';
import { PLATFORMS, SCOPES } from '../credentials/scopes.js';

/** What each REST scope grants, in the words of the README's table. */
const SCOPE_HELP: Record<string, string> = {
  smtp: 'send mail (SMTP)',
  imap: 'read mail (IMAP)',
  pop3: 'download mail (POP3)',
  'api:read': 'list API keys and app passwords',
  'api:write': 'manage API keys and app passwords',
  app: 'everything your account may do',
  internal: 'ask the verification endpoint (mail servers; admins only)',
};
const DEFAULT_SCOPES = new Set(['smtp', 'imap']);
/** The audit event types in words (the Activity view's filter; app.js shows the same words). */
const EVENT_NAMES: Record<string, string> = {
  'credential.created': 'Credential created', 'credential.updated': 'Credential changed', 'credential.rotated': 'Credential rotated',
  'credential.destroyed': 'Credential revoked', 'credential.leaked': 'Reported leaked, revoked', 'account.created': 'Account created', 'account.passwordChanged': 'Password changed',
  'account.deleted': 'Account deleted', 'web.signIn': 'Signed in', 'web.signOut': 'Signed out',
};
const PLATFORM_NAMES: Record<string, string> = { ios: 'iPhone / iPad', android: 'Android', windows: 'Windows', macos: 'macOS', web: 'Web' };

/** JSON inside a <script type="application/json">: nothing in it may close the element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

const Layout: FC<{ title: string; csrf?: string; children?: Child }> = ({ title, csrf, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      {csrf !== undefined && <meta name="csrf-token" content={csrf} />}
      <title>{title}</title>
      <link rel="icon" href="/web/assets/icon.svg" type="image/svg+xml" />
      <link rel="stylesheet" href="/web/assets/app.css" />
    </head>
    <body>{children}</body>
  </html>
);

export interface SignInProps {
  loginCsrf: string;
  login?: string;
  error?: string;
  notice?: string;
}

/** Sign-in with login and password; a plain form that works without script. */
export const SignInPage: FC<SignInProps> = ({ loginCsrf, login, error, notice }) => (
  <Layout title="Sign in · jmap-keys">
    <main class="signin">
      <div class="card">
        <p class="brand" aria-hidden="true">jmap-keys</p>
        <h1>Sign in</h1>
        <p class="muted">Manage your API keys and app passwords.</p>
        {notice && <p class="notice" role="status">{notice}</p>}
        {error && <p class="alert" role="alert" id="signin-error">{error}</p>}
        <form method="post" action="/web/login" class="stack">
          <input type="hidden" name="_csrf" value={loginCsrf} />
          <div class="field">
            <label for="login">Login</label>
            <input id="login" name="login" autocomplete="username" autocapitalize="none" spellcheck={false} required
              autofocus={!login} value={login ?? ''} maxlength={200}
              aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'signin-error' : undefined} />
          </div>
          <div class="field">
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required autofocus={!!login}
              maxlength={1000} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'signin-error' : undefined} />
          </div>
          <button type="submit" class="primary wide">Sign in</button>
        </form>
      </div>
    </main>
  </Layout>
);

const FieldError: FC<{ id: string }> = ({ id }) => <p class="field-error" id={id} hidden></p>;

const Filter: FC<{ prefix: string; noun: string }> = ({ prefix, noun }) => (
  <form class="filter" id={`${prefix}-filter`} novalidate aria-label={`Filter ${noun} by expiration date`}>
    <div class="field">
      <label for={`${prefix}-filter-op`}>Expiration date</label>
      <select id={`${prefix}-filter-op`} name="op">
        <option value="on">is on</option>
        <option value="before">is before</option>
        <option value="after">is after</option>
      </select>
    </div>
    <div class="field">
      <label for={`${prefix}-filter-date`}>Date</label>
      <input type="date" id={`${prefix}-filter-date`} name="date" data-field="date" aria-describedby={`${prefix}-filter-date-error`} />
    </div>
    <div class="filter-buttons">
      <button type="submit">Filter</button>
      <button type="reset" class="subtle">Show all</button>
    </div>
    <FieldError id={`${prefix}-filter-date-error`} />
  </form>
);

const Table: FC<{ id: string; caption: string; columns: string[] }> = ({ id, caption, columns }) => (
  <table class="list" id={id}>
    <caption class="sr-only">{caption}</caption>
    <thead>
      <tr>
        {columns.map((c) => <th scope="col">{c}</th>)}
        <th scope="col"><span class="sr-only">Actions</span></th>
      </tr>
    </thead>
    <tbody></tbody>
  </table>
);

const DialogButtons: FC<{ submitId: string; submitLabel: string; danger?: boolean }> = ({ submitId, submitLabel, danger }) => (
  <div class="dialog-buttons">
    <button type="button" class="subtle" data-close>Cancel</button>
    <button type="submit" id={submitId} class={danger ? 'danger' : 'primary'}>{submitLabel}</button>
  </div>
);

/** Create / edit an API key, or edit an app password (then without the permissions section). */
const CredentialDialog: FC = () => (
  <dialog id="cred-dialog" aria-labelledby="cred-title">
    <form id="cred-form" novalidate>
      <h2 id="cred-title">Create API key</h2>
      <p class="alert" id="cred-error" role="alert" hidden></p>
      <fieldset class="section">
        <legend>Credential</legend>
        <div class="field">
          <label for="cred-description" id="cred-description-label">Description</label>
          <input id="cred-description" name="description" data-field="description" maxlength={LIMITS.descriptionMax} autocomplete="off"
            placeholder="e.g. Backup script" aria-describedby="cred-description-error" />
          <FieldError id="cred-description-error" />
        </div>
      </fieldset>
      <fieldset class="section" id="cred-permissions-section">
        <legend>Permissions</legend>
        <div class="radios" role="radiogroup" aria-describedby="cred-permissions-error">
          <label><input type="radio" name="mode" value="Inherit" checked /> <span><strong>Inherit</strong> — the same permissions as my account</span></label>
          <label><input type="radio" name="mode" value="Disable" /> <span><strong>Disable</strong> — my account's permissions, minus those picked below</span></label>
          <label><input type="radio" name="mode" value="Replace" /> <span><strong>Replace</strong> — only the permissions picked below</span></label>
        </div>
        <div id="perm-picker" class="picker" hidden>
          <div class="picker-tools">
            <div class="field grow">
              <label for="perm-search">Search permissions</label>
              <input type="search" id="perm-search" autocomplete="off" spellcheck={false} placeholder="e.g. apikey, authenticate" aria-controls="perm-list" />
            </div>
            <label class="check"><input type="checkbox" id="perm-mine" checked /> only those my account has</label>
          </div>
          <p class="muted small"><span id="perm-count" aria-live="polite">0 selected</span> · <button type="button" class="link" id="perm-clear">clear selection</button></p>
          <ul id="perm-list" class="perm-list" data-field="permissions" tabindex={-1} aria-label="Permissions"></ul>
          <p class="muted small" id="perm-hint">A key needs <code>authenticate</code> to be usable at all.</p>
        </div>
        <FieldError id="cred-permissions-error" />
      </fieldset>
      <fieldset class="section">
        <legend>Restrictions</legend>
        <div class="field">
          <label for="cred-expires">Expiration date</label>
          <input type="datetime-local" id="cred-expires" name="expiresAt" data-field="expiresAt" aria-describedby="cred-expires-hint cred-expiresAt-error" />
          <div class="presets" role="group" aria-label="Expire in">
            {[30, 90, 365].map((d) => <button type="button" class="small subtle" data-expire-days={String(d)}>{d} days</button>)}
            <button type="button" class="small subtle" data-expire-days="">Never</button>
          </div>
          <p class="hint" id="cred-expires-hint">In your local time. Leave empty for no expiry.</p>
          <FieldError id="cred-expiresAt-error" />
        </div>
        <div class="field">
          <label for="cred-ips">Allowed IPs</label>
          <textarea id="cred-ips" name="allowedIps" data-field="allowedIps" rows={3} spellcheck={false} autocomplete="off"
            placeholder={'192.0.2.10\n10.0.0.0/8'} aria-describedby="cred-ips-hint cred-allowedIps-error"></textarea>
          <p class="hint" id="cred-ips-hint">One IPv4 or IPv6 address or CIDR mask per line. Leave empty to allow any address.</p>
          <FieldError id="cred-allowedIps-error" />
        </div>
      </fieldset>
      <p class="warning" id="cred-warning" role="alert" hidden></p>
      <DialogButtons submitId="cred-submit" submitLabel="Create" />
    </form>
  </dialog>
);

const AppPasswordDialog: FC<{ isAdmin: boolean }> = ({ isAdmin }) => (
  <dialog id="app-dialog" aria-labelledby="app-title">
    <form id="app-form" novalidate>
      <h2 id="app-title">Create app password</h2>
      <p class="alert" id="app-error" role="alert" hidden></p>
      <div class="field">
        <label for="app-name">Name</label>
        <input id="app-name" name="name" data-field="name" maxlength={LIMITS.restNameMax} autocomplete="off" placeholder="e.g. Thunderbird on my laptop"
          aria-describedby="app-name-error" />
        <FieldError id="app-name-error" />
      </div>
      <fieldset class="section" aria-describedby="app-scopes-error">
        <legend>Scopes</legend>
        <div class="checks" data-field="scopes" tabindex={-1}>
          {SCOPES.filter((s) => isAdmin || s !== 'internal').map((s) => (
            <label><input type="checkbox" name="scopes" value={s} checked={DEFAULT_SCOPES.has(s)} /> <span><code>{s}</code> — {SCOPE_HELP[s]}</span></label>
          ))}
        </div>
        <FieldError id="app-scopes-error" />
      </fieldset>
      <DialogButtons submitId="app-submit" submitLabel="Create" />
    </form>
  </dialog>
);

const MobileDialog: FC = () => (
  <dialog id="mobile-dialog" aria-labelledby="mobile-title">
    <form id="mobile-form" novalidate>
      <h2 id="mobile-title">Add a phone or tablet</h2>
      <p class="muted">Creates an app password with the <code>imap</code> and <code>smtp</code> scopes and a one-time setup link for the device.</p>
      <p class="alert" id="mobile-error" role="alert" hidden></p>
      <div class="field">
        <label for="mobile-name">Name</label>
        <input id="mobile-name" name="name" data-field="name" maxlength={LIMITS.restNameMax} autocomplete="off" placeholder="e.g. My iPhone" aria-describedby="mobile-name-error" />
        <FieldError id="mobile-name-error" />
      </div>
      <div class="field">
        <label for="mobile-platform">Platform</label>
        <select id="mobile-platform" name="platform" data-field="platform" aria-describedby="mobile-platform-error">
          {PLATFORMS.map((p) => <option value={p}>{PLATFORM_NAMES[p] ?? p}</option>)}
        </select>
        <FieldError id="mobile-platform-error" />
      </div>
      <div class="field">
        <label for="mobile-device">Device identifier</label>
        <input id="mobile-device" name="deviceId" data-field="deviceId" maxlength={LIMITS.deviceIdMax} autocomplete="off" spellcheck={false}
          aria-describedby="mobile-device-hint mobile-deviceId-error" />
        <p class="hint" id="mobile-device-hint">Anything that tells this device apart, e.g. its serial number.</p>
        <FieldError id="mobile-deviceId-error" />
      </div>
      <DialogButtons submitId="mobile-submit" submitLabel="Create" />
    </form>
  </dialog>
);

const SecretDialog: FC = () => (
  <dialog id="secret-dialog" aria-labelledby="secret-title" aria-describedby="secret-warning">
    <form method="dialog">
      <h2 id="secret-title">API key created</h2>
      <p class="warning" id="secret-warning" role="alert">
        <strong>Copy the secret now.</strong> It is shown only this once: jmap-keys keeps only a hash of it and cannot show it
        again. If you lose it, revoke it and create a new one.
      </p>
      <div class="secret-row">
        <label for="secret-value" id="secret-label">Secret</label>
        <div class="secret-box">
          <textarea id="secret-value" readonly rows={1} spellcheck={false} autocomplete="off"></textarea>
          <button type="button" id="secret-copy" class="primary">Copy</button>
        </div>
        <p class="hint" id="secret-copied" aria-live="polite"></p>
      </div>
      <div id="secret-extra"></div>
      <div class="warning" id="secret-leave" role="alert" hidden>
        <p><strong>Close without saving the secret?</strong> It cannot be shown again.</p>
        <div class="buttons">
          <button type="button" id="secret-stay" class="primary">Keep it open</button>
          <button type="button" id="secret-leave-anyway" class="subtle">Close anyway</button>
        </div>
      </div>
      <div class="dialog-buttons">
        <button type="submit" id="secret-done">I have saved it</button>
      </div>
    </form>
  </dialog>
);

/** The rotate dialog's choices of overlap, in seconds. */
const GRACE_CHOICES: readonly [number, string][] = [[0, 'No: stop it now'], [3600, 'For 1 hour'], [86400, 'For 1 day'], [604800, 'For 7 days']];

const ConfirmDialog: FC = () => (
  <dialog id="confirm-dialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">
    <form id="confirm-form" novalidate>
      <h2 id="confirm-title">Revoke?</h2>
      <p id="confirm-text"></p>
      {/* Rotations only: how long the old secret keeps working (graceSeconds). */}
      <div class="field" id="confirm-grace-field" hidden>
        <label for="confirm-grace">The old secret keeps working</label>
        <select id="confirm-grace" name="grace">
          {GRACE_CHOICES.map(([seconds, label]) => <option value={String(seconds)}>{label}</option>)}
        </select>
        <p class="hint">Never past its own expiry. Meanwhile both count toward your limit of credentials.</p>
      </div>
      <p class="alert" id="confirm-error" role="alert" hidden></p>
      <DialogButtons submitId="confirm-ok" submitLabel="Revoke" danger />
    </form>
  </dialog>
);

/** The account's own password: the current one, then the new one twice. */
const PasswordDialog: FC<{ login: string }> = ({ login }) => (
  <dialog id="password-dialog" aria-labelledby="password-title">
    <form id="password-form" novalidate>
      <h2 id="password-title">Change your password</h2>
      <p class="muted small">Your other sign-ins end; this one continues. App passwords and API keys keep working unless you tick the box below.</p>
      <p class="alert" id="password-error" role="alert" hidden></p>
      <input type="text" name="username" value={login} autocomplete="username" hidden readonly />
      <div class="field">
        <label for="password-current">Current password</label>
        <input type="password" id="password-current" name="currentPassword" data-field="currentPassword" autocomplete="current-password" aria-describedby="password-currentPassword-error" />
        <FieldError id="password-currentPassword-error" />
      </div>
      <div class="field">
        <label for="password-new-1">New password</label>
        <input type="password" id="password-new-1" name="newPassword" data-field="newPassword" autocomplete="new-password" minlength={8} aria-describedby="password-newPassword-error" />
        <FieldError id="password-newPassword-error" />
      </div>
      <div class="field">
        <label for="password-new-2">New password again</label>
        <input type="password" id="password-new-2" name="repeat" data-field="repeat" autocomplete="new-password" aria-describedby="password-repeat-error" />
        <FieldError id="password-repeat-error" />
      </div>
      <div class="field">
        <label class="check"><input type="checkbox" id="password-revoke" name="revokeCredentials" /> Also revoke all my API keys and app passwords (if the password may have leaked)</label>
      </div>
      <DialogButtons submitId="password-submit" submitLabel="Change password" />
    </form>
  </dialog>
);

export interface AppPageProps {
  login: string;
  /** The name mail apps log in with (the account's address, else its login). */
  mailUser: string;
  isAdmin: boolean;
  csrf: string;
  /** The account's own permissions, to narrow the picker by default. */
  own: readonly string[];
  sessionExpiresAt: number;
}

/** The signed-in page: Account › Credentials with API Keys and App Passwords; the data comes from /api by script. */
export const AppPage: FC<AppPageProps> = ({ login, mailUser, isAdmin, csrf, own, sessionExpiresAt }) => (
  <Layout title="Credentials · jmap-keys" csrf={csrf}>
    <a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <span class="brand">jmap-keys</span>
      <div class="who">
        <span class="muted">Signed in as</span> <strong id="who-login">{login}</strong>
        <button type="button" class="subtle small" id="password-new">Change password</button>
        <form method="post" action="/web/logout" class="inline">
          <input type="hidden" name="_csrf" value={csrf} />
          <button type="submit" class="subtle small" id="signout">Sign out</button>
        </form>
      </div>
    </header>
    <main id="main" tabindex={-1}>
      <nav aria-label="Breadcrumb" class="crumbs">
        <ol><li>Account</li><li>Credentials</li><li aria-current="page" id="crumb-current">API Keys</li></ol>
      </nav>
      <div class="tabs" role="tablist" aria-label="Credentials">
        <button type="button" role="tab" id="tab-keys" aria-controls="panel-keys" aria-selected="true" data-hash="api-keys">API Keys</button>
        <button type="button" role="tab" id="tab-apps" aria-controls="panel-apps" aria-selected="false" tabindex={-1} data-hash="app-passwords">App Passwords</button>
        <button type="button" role="tab" id="tab-activity" aria-controls="panel-activity" aria-selected="false" tabindex={-1} data-hash="activity">Activity</button>
      </div>
      <p class="alert" id="page-error" role="alert" hidden></p>

      <section id="panel-keys" role="tabpanel" aria-labelledby="tab-keys">
        <div class="panel-head">
          <div>
            <h1>API Keys</h1>
            <p class="muted">Manage API keys for programmatic access (<code>Authorization: Bearer API_…</code>).</p>
          </div>
          <div class="buttons">
            <button type="button" class="primary" id="key-new">Create API key</button>
            <button type="button" class="danger-text" id="key-revoke-all">Revoke all</button>
          </div>
        </div>
        <Filter prefix="key" noun="API keys" />
        <p class="status" id="key-status" role="status"></p>
        <Table id="key-table" caption="API keys" columns={['Description', 'Created', 'Expires', 'Last used']} />
      </section>

      <section id="panel-apps" role="tabpanel" aria-labelledby="tab-apps" hidden>
        <div class="panel-head">
          <div>
            <h1>App Passwords</h1>
            <p class="muted">Passwords for mail apps: log in with the user name <strong>{mailUser}</strong> and the app password.</p>
          </div>
          <div class="buttons">
            <button type="button" class="primary" id="app-new">Create app password</button>
            <button type="button" id="mobile-new">Add a phone or tablet</button>
            <button type="button" class="danger-text" id="app-revoke-all">Revoke all</button>
          </div>
        </div>
        <details class="connection" open>
          <summary>Connection settings for mail apps</summary>
          <table class="list compact" id="conn-table">
            <caption class="sr-only">Mail servers</caption>
            <thead><tr><th scope="col">Protocol</th><th scope="col">Server</th><th scope="col">Port (STARTTLS)</th><th scope="col">Port (TLS)</th></tr></thead>
            <tbody></tbody>
          </table>
          <p class="muted small">User name: <strong>{mailUser}</strong>. Password: an app password with the protocol's scope.</p>
        </details>
        <Filter prefix="app" noun="app passwords" />
        <p class="status" id="app-status" role="status"></p>
        <Table id="app-table" caption="App passwords" columns={['Name', 'Scopes', 'Created', 'Expires', 'Last used']} />
      </section>

      <section id="panel-activity" role="tabpanel" aria-labelledby="tab-activity" hidden>
        <div class="panel-head">
          <div>
            <h1>Activity</h1>
            <p class="muted">What was changed{isAdmin ? ' on this server' : ' on your account'}, by whom and from where: the audit trail.</p>
          </div>
        </div>
        <form class="filter" id="activity-filter" novalidate aria-label="Filter activity">
          <div class="field">
            <label for="activity-type">Event</label>
            <select id="activity-type" name="type">
              <option value="">All events</option>
              {Object.entries(EVENT_NAMES).map(([value, name]) => <option value={value}>{name}</option>)}
            </select>
          </div>
          <div class="filter-buttons">
            <button type="submit">Filter</button>
            <button type="reset" class="subtle" id="activity-all">Show all</button>
          </div>
        </form>
        <p class="status" id="activity-status" role="status"></p>
        <table class="list" id="activity-table">
          <caption class="sr-only">Audit events</caption>
          <thead><tr>{['When', 'Event', 'Credential', 'Account', 'By', 'From'].map((c) => <th scope="col">{c}</th>)}</tr></thead>
          <tbody></tbody>
        </table>
      </section>
    </main>
    <CredentialDialog />
    <AppPasswordDialog isAdmin={isAdmin} />
    <MobileDialog />
    <SecretDialog />
    <ConfirmDialog />
    <PasswordDialog login={login} />
    <script type="application/json" id="jk-data" dangerouslySetInnerHTML={{
      __html: scriptJson({ login, isAdmin, permissions: ALL_PERMISSIONS, own, sessionExpiresAt }),
    }} />
    <script type="module" src="/web/assets/app.js"></script>
  </Layout>
);
