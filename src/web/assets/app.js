/* global document, window, navigator, fetch, location, history, setTimeout, URL, Node, EventSource */
// The jmap-keys web page: plain JavaScript, no build step, no dependencies. It talks to the same JMAP endpoint
// (POST /api) and REST endpoints (/api/smtp-credentials) as any other client; the session cookie authenticates,
// and every write carries the session's CSRF token in X-CSRF-Token.

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

const data = JSON.parse($('#jk-data').textContent);
// A password change issues a new session, and with it a new token.
let csrf = $('meta[name="csrf-token"]').content;
const USING = ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap', 'urn:jmap-keys:audit'];
const REST = '/api/smtp-credentials';
const RENEW_AFTER_MS = 4 * 60 * 1000;
const session = { apiUrl: '/api', maxObjects: 500, renewedAt: Date.now(), accountId: null };

const KINDS = {
  apiKey: { type: 'x:ApiKey', noun: 'API key' },
  appPassword: { type: 'x:AppPassword', noun: 'app password' },
};

/** What each property's invalidProperties error means, in words (the SetError names only the property). */
const FIELD_MESSAGES = {
  description: 'Enter a description of 1 to 1000 characters.',
  expiresAt: 'Enter a valid date and time, or leave it empty for no expiry.',
  permissions: 'Pick only known permission names.',
  allowedIps: 'Each line must be an IPv4 or IPv6 address or a CIDR mask with a prefix of 8 or more (e.g. 10.0.0.0/8); at most 100 lines.',
};
const ERROR_TYPES = {
  forbidden: 'You are not allowed to do this.',
  overQuota: 'You have reached the maximum number of credentials.',
  notFound: 'It no longer exists; it may have been revoked elsewhere.',
  stateMismatch: 'It was changed elsewhere; reload and try again.',
  tooManyRequests: 'The server is busy; try again in a moment.',
};

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

/** Builds an element; text children are always text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const sentence = (text) => {
  const t = String(text ?? '').trim();
  if (!t) return t;
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
};
const capital = (text) => text[0].toUpperCase() + text.slice(1);
const quoted = (text) => `“${text}”`;
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

class ApiError extends Error {
  constructor(message, fields = {}, status = 0) {
    super(message);
    this.fields = fields;
    this.status = status;
  }
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const toUtcDate = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const pad = (n) => String(n).padStart(2, '0');

/** A UTCDate as the value of a datetime-local input (local time, to the minute). */
function toLocalInput(utc) {
  if (!utc) return '';
  const d = new Date(utc);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (local time) as a UTCDate; anything unreadable is sent as typed, for the server to judge. */
function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : toUtcDate(d);
}

const dateCell = (utc, empty) => (utc
  ? h('time', { datetime: utc, title: utc }, dateTime.format(new Date(utc)))
  : h('span', { class: 'never' }, empty));

const formatDate = (utc) => (utc ? dateTime.format(new Date(utc)) : '');
const SERVICE_NAMES = { jmap: 'JMAP API', rest: 'REST API', imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP' };

/** Last use: when, and below it by what and from where (the mail client's address for mail logins). */
const lastUsedCell = (item) => [
  dateCell(item.lastUsedAt, 'Never'),
  item.lastUsedAt && (item.lastUsedService || item.lastUsedFrom)
    ? h('span', { class: 'sub last-use' }, [SERVICE_NAMES[item.lastUsedService] ?? item.lastUsedService, item.lastUsedFrom && `from ${item.lastUsedFrom}`]
      .filter(Boolean).join(' · '))
    : null,
];

const isExpired = (item) => item.expiresAt !== null && new Date(item.expiresAt).getTime() <= Date.now();

// ---------------------------------------------------------------------------------------------------------------
// Talking to the server: the public APIs, nothing else

function sessionEnded() {
  location.assign('/web/?expired');
}

/** Renews the session JWT now and then while the page is in use. */
function keepAlive() {
  if (Date.now() - session.renewedAt < RENEW_AFTER_MS) return;
  session.renewedAt = Date.now();
  fetch('/web/refresh', { method: 'POST', headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin' }).catch(() => {});
}

async function http(url, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store',
    });
  } catch {
    throw new ApiError('The server cannot be reached. Check the connection and try again.');
  }
  if (res.status === 401) {
    sessionEnded();
    throw new ApiError('Your session has ended. Sign in again.', {}, 401);
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    // REST errors are {error, message, field?}; JMAP request errors are problem+json {detail}.
    const message = sentence(json?.message ?? json?.detail ?? `The server answered ${res.status} ${res.statusText}`);
    throw new ApiError(message, json?.field ? { [json.field]: message } : {}, res.status);
  }
  keepAlive();
  return json;
}

/** One JMAP request; the responses by call id. A method error becomes an ApiError. */
async function jmap(calls) {
  const body = await http(session.apiUrl, { method: 'POST', body: { using: USING, methodCalls: calls } });
  const byId = new Map();
  for (const [name, args, id] of body.methodResponses) {
    if (name === 'error') throw new ApiError(sentence(args.description ?? ERROR_TYPES[args.type] ?? `The server refused the request (${args.type})`));
    byId.set(id, args);
  }
  return byId;
}

/** A JMAP SetError as field messages where it names properties, else one message. */
function setError(err) {
  const fields = {};
  for (const property of err.properties ?? []) {
    const field = String(property).split('/')[0];
    // The page's own words per field first: the server's description covers every property at once.
    fields[field] = FIELD_MESSAGES[field] ?? (err.description ? sentence(err.description) : 'This value is not valid.');
    if (field === 'allowedIps') {
      const bad = sentIpLines.filter(([, l]) => !isIpMask(l));
      if (bad.length > 0) fields[field] += ` Check ${namedLines(bad)}.`;
    }
  }
  const message = Object.keys(fields).length > 0 ? 'Please correct the marked fields.'
    : sentence(err.description ?? ERROR_TYPES[err.type] ?? `The server refused it (${err.type})`);
  return new ApiError(message, fields);
}

/** Query then get, in one request (a result reference), newest first. */
async function list(type, filter) {
  const responses = await jmap([
    [`${type}/query`, { filter, sort: [{ property: 'createdAt', isAscending: false }], limit: session.maxObjects, calculateTotal: true }, 'q'],
    [`${type}/get`, { '#ids': { resultOf: 'q', name: `${type}/query`, path: '/ids' } }, 'g'],
  ]);
  const byId = new Map(responses.get('g').list.map((item) => [item.id, item]));
  const q = responses.get('q');
  return { items: q.ids.map((id) => byId.get(id)).filter(Boolean), total: q.total ?? q.ids.length };
}

// ---------------------------------------------------------------------------------------------------------------
// Errors next to their fields

function clearErrors(form) {
  for (const el of $$('.field-error', form)) {
    el.hidden = true;
    el.textContent = '';
  }
  for (const el of $$('[aria-invalid]', form)) el.removeAttribute('aria-invalid');
  const alert = $('.alert', form);
  if (alert) {
    alert.hidden = true;
    alert.textContent = '';
  }
}

function showErrors(form, prefix, error) {
  const leftovers = [];
  let first = null;
  for (const [field, message] of Object.entries(error.fields ?? {})) {
    const slot = document.getElementById(`${prefix}-${field}-error`);
    if (!slot) {
      leftovers.push(message);
      continue;
    }
    slot.textContent = message;
    slot.hidden = false;
    const input = form.querySelector(`[data-field="${field}"]`);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      first ??= input;
    }
  }
  const alert = $('.alert', form);
  const placed = Object.keys(error.fields ?? {}).length - leftovers.length;
  const general = first && leftovers.length === 0 ? `Please correct the marked ${placed === 1 ? 'field' : 'fields'}.`
    : [error.message, ...leftovers].filter(Boolean).join(' ');
  if (alert && general) {
    alert.textContent = general;
    alert.hidden = false;
  }
  (first ?? alert)?.focus?.();
  if (!first && alert) alert.scrollIntoView({ block: 'nearest' });
}

function pageError(error) {
  const alert = $('#page-error');
  alert.textContent = error instanceof ApiError ? error.message : 'Something went wrong. Reload the page and try again.';
  alert.hidden = false;
}

function clearPageError() {
  $('#page-error').hidden = true;
}

// ---------------------------------------------------------------------------------------------------------------
// Dialogs: native <dialog> (focus stays inside, Esc closes); focus returns where it came from

function openDialog(dialog, focus) {
  dialog.returnFocusTo = document.activeElement;
  dialog.showModal();
  (focus ?? dialog.querySelector('input, select, textarea, button'))?.focus();
}

for (const dialog of $$('dialog')) {
  dialog.addEventListener('close', () => {
    const back = dialog.returnFocusTo;
    if (back && document.contains(back)) back.focus();
  });
  for (const button of $$('[data-close]', dialog)) button.addEventListener('click', () => dialog.close());
}

async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Lists

const state = {
  keys: { filter: null, filterText: '', flash: '', lastFlash: '', lastFlashAt: 0, flashOwed: false },
  apps: { filter: null, filterText: '', flash: '', lastFlash: '', lastFlashAt: 0, flashOwed: false },
  /** The Activity view: an event type, and a credential when opened from a row's Activity button. */
  activity: { type: '', credential: null },
};

function emptyRow(columns, text) {
  return h('tr', {}, h('td', { class: 'empty', colspan: columns }, text));
}

/** How long a message about the last action outlives the list reloads that live updates cause. */
const FLASH_MS = 15_000;
/** Set while a reload comes from a live update (push event or ping), not from the user. */
let liveReload = false;

function statusText(s, count, total, one, many) {
  const parts = [];
  if (s.flash) {
    parts.push(s.flash);
    s.lastFlash = s.flash;
    s.lastFlashAt = Date.now();
    // A live reload that lands between the action and the action's own reload took the message: that reload
    // must still show it, or it flashes for a moment and is gone.
    s.flashOwed = liveReload;
  } else if ((liveReload || s.flashOwed) && s.lastFlash && Date.now() - s.lastFlashAt < FLASH_MS) {
    // The change's own push event reloads the list right after the action: its message stays.
    parts.push(s.lastFlash);
    if (!liveReload) s.flashOwed = false;
  }
  if (total > count) parts.push(`Showing the newest ${count} of ${total} ${many}.`);
  else if (s.filter) parts.push(`${plural(count, one, many)} ${s.filterText}.`);
  // With no filter, an empty list says so itself.
  else if (count > 0) parts.push(`${plural(count, one, many)}.`);
  s.flash = '';
  return parts.join(' ');
}

function permissionSummary(p) {
  if (!p || p['@type'] === 'Inherit') return 'Same permissions as the account';
  const n = (p.permissions ?? []).length;
  return p['@type'] === 'Replace' ? `Only ${plural(n, 'permission', 'permissions')}` : `Account minus ${plural(n, 'permission', 'permissions')}`;
}

function keyRow(key) {
  const label = quoted(key.description);
  return h('tr', { 'data-id': key.id },
    h('td', { class: 'first', 'data-label': 'Description' },
      h('span', { class: 'name' }, key.description),
      isExpired(key) ? [' ', h('span', { class: 'badge expired' }, 'expired')] : null,
      h('span', { class: 'sub' }, permissionSummary(key.permissions),
        key.allowedIps.length ? ` · ${plural(key.allowedIps.length, 'allowed IP', 'allowed IPs')}` : '')),
    h('td', { 'data-label': 'Created' }, dateCell(key.createdAt, '—')),
    h('td', { 'data-label': 'Expires' }, dateCell(key.expiresAt, 'Never')),
    h('td', { 'data-label': 'Last used' }, lastUsedCell(key)),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${label}`, onclick: () => openCredDialog('apiKey', key) }, 'Edit'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Rotate ${label}`, onclick: () => rotateKey(key) }, 'Rotate'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Activity of ${label}`, onclick: () => showActivity(key) }, 'Activity'),
      h('button', { type: 'button', class: 'small danger-text', 'aria-label': `Revoke ${label}`, onclick: () => revokeKey(key) }, 'Revoke')));
}

async function loadKeys() {
  const s = state.keys;
  try {
    const { items, total } = await list('x:ApiKey', s.filter);
    clearPageError();
    $('#key-table tbody').replaceChildren(...(items.length ? items.map(keyRow)
      : [emptyRow(5, s.filter ? 'No API keys match this filter.' : 'No API keys yet. Create one to use the API from scripts and tools.')]));
    $('#key-status').textContent = statusText(s, items.length, total, 'API key', 'API keys');
  } catch (err) {
    pageError(err);
  }
}

const PROTOCOLS = [['imap', 'IMAP'], ['smtp', 'SMTP (submission)'], ['pop3', 'POP3']];

function renderConnection(info) {
  const rows = PROTOCOLS.filter(([p]) => info?.[p]?.enabled).map(([p, label]) => h('tr', {},
    h('td', {}, label), h('td', { class: 'mono' }, info[p].serverName), h('td', {}, info[p].port), h('td', {}, info[p].securePort)));
  $('#conn-table tbody').replaceChildren(...(rows.length ? rows : [emptyRow(4, 'No mail protocols are enabled on this server.')]));
}

function appRow(app, rest) {
  const label = quoted(app.description);
  const device = rest?.platform ? `${rest.platform}${rest.deviceId ? ` · ${rest.deviceId}` : ''}` : '';
  const scopes = app.scopes ?? null;
  return h('tr', { 'data-id': app.id },
    h('td', { class: 'first', 'data-label': 'Name' },
      h('span', { class: 'name' }, app.description),
      isExpired(app) ? [' ', h('span', { class: 'badge expired' }, 'expired')] : null,
      device ? h('span', { class: 'sub' }, device) : null,
      app.allowedIps.length ? h('span', { class: 'sub' }, plural(app.allowedIps.length, 'allowed IP', 'allowed IPs')) : null),
    h('td', { 'data-label': 'Scopes' }, scopes ? h('span', {}, scopes.map((s) => h('span', { class: 'badge' }, s))) : h('span', { class: 'never' }, 'custom')),
    h('td', { 'data-label': 'Created' }, dateCell(app.createdAt, '—')),
    h('td', { 'data-label': 'Expires' }, dateCell(app.expiresAt, 'Never')),
    h('td', { 'data-label': 'Last used' }, lastUsedCell(app)),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${label}`, onclick: () => openCredDialog('appPassword', app) }, 'Edit'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Rotate ${label}`, onclick: () => rotateApp(app) }, 'Rotate'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Activity of ${label}`, onclick: () => showActivity(app) }, 'Activity'),
      h('button', { type: 'button', class: 'small danger-text', 'aria-label': `Revoke ${label}`, onclick: () => revokeApp(app) }, 'Revoke')));
}

let connectionInfo = null;

async function loadApps() {
  const s = state.apps;
  try {
    // JMAP for the list (filterable, with expired ones); REST for the connection info and mobile details.
    const [{ items, total }, rest] = await Promise.all([list('x:AppPassword', s.filter), http(REST)]);
    clearPageError();
    connectionInfo = rest.connectionInfo;
    renderConnection(connectionInfo);
    const details = new Map(rest.keys.map((k) => [k.id, k]));
    $('#app-table tbody').replaceChildren(...(items.length ? items.map((a) => appRow(a, details.get(a.id)))
      : [emptyRow(6, s.filter ? 'No app passwords match this filter.' : 'No app passwords yet. Create one for each mail app or device.')]));
    $('#app-status').textContent = statusText(s, items.length, total, 'app password', 'app passwords');
  } catch (err) {
    pageError(err);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Filter by expiration date (local days, sent as UTCDate bounds)

function readFilter(form) {
  const op = form.elements.op.value;
  const value = form.elements.date.value;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new ApiError('', { date: 'Pick a date to filter by.' });
  const [y, m, d] = value.split('-').map(Number);
  const dayStart = (add) => toUtcDate(new Date(y, m - 1, d + add));
  const day = dateOnly.format(new Date(y, m - 1, d));
  if (op === 'before') return { filter: { expiresAtIsLessThan: dayStart(0) }, text: `expiring before ${day}` };
  if (op === 'after') return { filter: { expiresAtIsGreaterThanOrEqual: dayStart(1) }, text: `expiring after ${day}` };
  return { filter: { expiresAtIsGreaterThanOrEqual: dayStart(0), expiresAtIsLessThan: dayStart(1) }, text: `expiring on ${day}` };
}

function wireFilter(prefix, s, load) {
  const form = $(`#${prefix}-filter`);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const { filter, text } = readFilter(form);
      s.filter = filter;
      s.filterText = text;
      load();
    } catch (err) {
      showErrors(form, `${prefix}-filter`, err);
    }
  });
  form.addEventListener('reset', () => {
    clearErrors(form);
    s.filter = null;
    s.filterText = '';
    setTimeout(load);
  });
}

wireFilter('key', state.keys, loadKeys);
wireFilter('app', state.apps, loadApps);

// ---------------------------------------------------------------------------------------------------------------
// Permission picker: search box plus a checkbox per permission name

const own = new Set(data.own);
const permList = $('#perm-list');
const noMatch = h('li', { class: 'none' }, 'No permission matches.');

/** Areas of the ~660 permission names, by their first word, with readable names (in this order). */
const AREAS = [
  ['account', 'Sign-in and account', /^(authenticate|impersonate|interact|unlimited|fetch|oAuth)/],
  ['mail', 'Sending and receiving mail', /^(email|calendar[A-Z])/],
  ['imap', 'IMAP', /^imap/], ['pop3', 'POP3', /^pop3/], ['sieve', 'Sieve filters', /^sieve/],
  ['jmap', 'JMAP data (mail, calendars, contacts, files)', /^jmap/], ['dav', 'WebDAV, CalDAV and CardDAV', /^dav/],
  ['sys', 'Server administration', /^sys/], ['action', 'Server actions', /^action/], ['task', 'Background tasks', /^task/],
  ['live', 'Live tracing and metrics', /^live/], ['other', 'Other', /./],
];
const PREFIXES = /^(sys|jmap|dav|imap|pop3|sieve|action|task|live)(?=[A-Z0-9])/;
const ACRONYMS = new Set(['api', 'dkim', 'dmarc', 'spf', 'arc', 'mta', 'tls', 'acme', 'dns', 'ai', 'ip', 'ips', 'http', 'jmap', 'imap', 'smtp', 'oauth', 'oidc', 'ldap', 'sql', 'smtp', 'mx', 'url', 'dav', 'id']);
/** `sysApiKeyGet` → "API key get": the words after the area prefix, acronyms in capitals. */
function readable(name) {
  const words = name.replace(PREFIXES, '').replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z])([A-Z][a-z])/g, '$1 $2').split(' ').filter(Boolean);
  return words.map((w, i) => {
    const lower = w.toLowerCase();
    if (ACRONYMS.has(lower)) return lower.toUpperCase();
    return i === 0 ? lower[0].toUpperCase() + lower.slice(1) : lower;
  }).join(' ');
}

const groups = AREAS.map(([id, label]) => {
  const toggle = h('button', { type: 'button', class: 'link small', 'data-group': id }, 'Select all in group');
  const count = h('span', { class: 'muted small' });
  const list = h('ul', { class: 'perm-group-list', role: 'group', 'aria-label': label });
  const summary = h('summary', {}, h('strong', {}, label), ' ', count);
  const box = h('details', { class: 'perm-group', 'data-area': id }, summary, h('div', { class: 'perm-group-tools' }, toggle), list);
  return { id, label, toggle, count, list, li: h('li', { class: 'perm-area' }, box), box, items: [] };
});
const permItems = data.permissions.map((name) => {
  const input = h('input', { type: 'checkbox', value: name });
  const group = groups[AREAS.findIndex(([, , re]) => re.test(name))];
  // The label stays the permission's own name (what the API and the docs say); the readable words sit beside it.
  const item = { name, lower: `${name} ${readable(name)}`.toLowerCase(), input, group,
    li: h('li', {}, h('label', {}, input, h('span', {}, name)), h('span', { class: 'perm-words muted small' }, readable(name))) };
  group.items.push(item);
  group.list.append(item.li);
  return item;
});
const usedGroups = groups.filter((g) => g.items.length > 0);
permList.append(...usedGroups.map((g) => g.li), noMatch);
for (const g of usedGroups) {
  // Selects every permission of the group that the search and the "mine" switch show; again clears them.
  g.toggle.addEventListener('click', () => {
    const visible = g.items.filter((p) => !p.li.hidden);
    const all = visible.every((p) => p.input.checked);
    for (const p of visible) p.input.checked = !all;
    updatePicker();
  });
}
if (own.size >= data.permissions.length) $('#perm-mine').closest('label').hidden = true;

function updatePicker() {
  const mode = $('#cred-form').elements.mode.value;
  $('#perm-picker').hidden = mode === 'Inherit';
  $('#perm-hint').hidden = mode !== 'Replace';
  const words = $('#perm-search').value.toLowerCase().split(/\s+/).filter(Boolean);
  const mine = $('#perm-mine').checked && !$('#perm-mine').closest('label').hidden;
  let shown = 0;
  let chosen = 0;
  for (const p of permItems) {
    if (p.input.checked) chosen += 1;
    const show = p.input.checked || ((!mine || own.has(p.name)) && words.every((w) => p.lower.includes(w)));
    p.li.hidden = !show;
    if (show) shown += 1;
  }
  for (const g of usedGroups) {
    const visible = g.items.filter((p) => !p.li.hidden);
    const picked = g.items.filter((p) => p.input.checked).length;
    g.li.hidden = visible.length === 0;
    g.count.textContent = `${visible.length}${picked ? ` · ${picked} selected` : ''}`;
    g.toggle.textContent = visible.length > 0 && visible.every((p) => p.input.checked) ? 'Clear group' : 'Select all in group';
    // A search opens the groups it found something in.
    if (words.length > 0 && visible.length > 0) g.box.open = true;
  }
  noMatch.hidden = shown > 0;
  $('#perm-count').textContent = `${chosen} selected`;
}

$('#perm-search').addEventListener('input', updatePicker);
$('#perm-mine').addEventListener('change', updatePicker);
permList.addEventListener('change', updatePicker);
for (const radio of $$('#cred-form input[name=mode]')) radio.addEventListener('change', updatePicker);
$('#perm-clear').addEventListener('click', () => {
  for (const p of permItems) p.input.checked = false;
  updatePicker();
});
// Enter in the search box filters; it must not submit the dialog.
$('#perm-search').addEventListener('keydown', (event) => {
  if (event.key === 'Enter') event.preventDefault();
});

// ---------------------------------------------------------------------------------------------------------------
// Create / edit an API key, edit an app password

let editing = null;

function openCredDialog(kind, original = null) {
  editing = { kind, original };
  const form = $('#cred-form');
  form.reset();
  clearErrors(form);
  const { noun } = KINDS[kind];
  $('#cred-title').textContent = original ? `Edit ${noun} ${quoted(original.description)}` : `Create ${noun}`;
  $('#cred-submit').textContent = original ? 'Save changes' : 'Create';
  $('#cred-description-label').textContent = kind === 'apiKey' ? 'Description' : 'Name';
  $('#cred-description').placeholder = kind === 'apiKey' ? 'e.g. Backup script' : 'e.g. Thunderbird on my laptop';
  $('#cred-permissions-section').hidden = kind !== 'apiKey';
  $('#cred-warning').hidden = true;
  delete $('#cred-warning').dataset.for;
  const perms = original?.permissions ?? { '@type': 'Inherit' };
  form.querySelector(`input[name=mode][value=${perms['@type']}]`).checked = true;
  const chosen = new Set(perms.permissions ?? []);
  for (const p of permItems) p.input.checked = chosen.has(p.name);
  form.elements.description.value = original?.description ?? '';
  form.elements.expiresAt.value = toLocalInput(original?.expiresAt);
  form.elements.allowedIps.value = (original?.allowedIps ?? []).join('\n');
  updatePicker();
  openDialog($('#cred-dialog'), form.elements.description);
}

/** Whether a line is an IPv4/IPv6 address or CIDR mask (prefix 8 or more); the server checks again, strictly. */
function isIpMask(line) {
  const [addr, prefix, extra] = line.split('/');
  if (extra !== undefined || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(addr);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) && (prefix === undefined || (Number(prefix) >= 8 && Number(prefix) <= 32));
  if (!/^[0-9A-Fa-f:.]+$/.test(addr) || !addr.includes(':') || (addr.match(/::/g) ?? []).length > 1) return false;
  const groups = addr.split(':');
  if (groups.length > 8 || groups.some((g) => g.length > 4 && !g.includes('.'))) return false;
  return prefix === undefined || (Number(prefix) >= 8 && Number(prefix) <= 128);
}

/** The allowed-IP lines last sent, numbered, so a server refusal can name the lines at fault. */
let sentIpLines = [];
const namedLines = (bad) => bad.slice(0, 10).map(([n, l]) => `line ${n}: ${quoted(l.slice(0, 60))}`).join('; ')
  + (bad.length > 10 ? `; and ${bad.length - 10} more` : '');

/** Loose check only (characters and shape) before sending; every bad line is named, not just the first. */
const LOOKS_LIKE_IP = /^[0-9A-Fa-f:.]+(\/\d{1,3})?$/;

function readCredForm(form, kind) {
  const numbered = form.elements.allowedIps.value.split('\n').map((l, i) => [i + 1, l.trim()]).filter(([, l]) => l);
  const lines = numbered.map(([, l]) => l);
  sentIpLines = numbered;
  const bad = numbered.filter(([, l]) => !LOOKS_LIKE_IP.test(l));
  if (bad.length > 0) {
    throw new ApiError('Please correct the marked fields.', {
      allowedIps: `${bad.slice(0, 10).map(([n, l]) => `line ${n}: ${quoted(l.slice(0, 60))} is not an IP address or CIDR mask`).join('; ')}`
        + `${bad.length > 10 ? `; and ${bad.length - 10} more` : ''}. Write one per line, like 192.0.2.10 or 10.0.0.0/8.`,
    });
  }
  const values = {
    description: form.elements.description.value.trim(),
    expiresAt: fromLocalInput(form.elements.expiresAt.value),
    allowedIps: lines,
  };
  if (kind === 'apiKey') {
    const mode = form.elements.mode.value;
    values.permissions = mode === 'Inherit' ? { '@type': 'Inherit' }
      : { '@type': mode, permissions: permItems.filter((p) => p.input.checked).map((p) => p.name) };
  }
  return values;
}

const sameSet = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** Only the properties the user changed, as whole values. */
function changes(original, values, form) {
  const patch = {};
  if (values.description !== original.description) patch.description = values.description;
  if (form.elements.expiresAt.value !== toLocalInput(original.expiresAt)) patch.expiresAt = values.expiresAt;
  if (!sameSet(values.allowedIps, original.allowedIps)) patch.allowedIps = values.allowedIps;
  if (values.permissions) {
    const before = original.permissions;
    if (values.permissions['@type'] !== before['@type'] || !sameSet(values.permissions.permissions ?? [], before.permissions ?? [])) {
      patch.permissions = values.permissions;
    }
  }
  return patch;
}

// Expiry presets: a date so many days from now (to the minute), or none.
for (const button of $$('[data-expire-days]')) {
  button.addEventListener('click', () => {
    const days = button.dataset.expireDays;
    const input = $('#cred-expires');
    input.value = days ? toLocalInput(toUtcDate(new Date(Date.now() + Number(days) * 86_400_000))) : '';
  });
}

/** What would make a new credential useless from the start: said before it is created. */
function uselessBecause(values, kind) {
  const reasons = [];
  if (values.expiresAt && new Date(values.expiresAt).getTime() <= Date.now()) {
    reasons.push('The expiration date is in the past: it would stop working at once.');
  }
  if (kind === 'apiKey' && values.permissions?.['@type'] === 'Replace' && !values.permissions.permissions.includes('authenticate')) {
    reasons.push('Replace without authenticate: it could not sign in anywhere.');
  }
  return reasons;
}

$('#cred-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const { kind, original } = editing;
  const { type, noun } = KINDS[kind];
  await busy($('#cred-submit'), async () => {
    try {
      const values = readCredForm(form, kind);
      const warning = $('#cred-warning');
      const reasons = original ? [] : uselessBecause(values, kind);
      const seen = JSON.stringify(values);
      if (reasons.length > 0 && warning.dataset.for !== seen) {
        // Warn once; the same values submitted again are created as asked.
        warning.dataset.for = seen;
        warning.textContent = `${reasons.join(' ')} Press Create again to create it anyway.`;
        warning.hidden = false;
        warning.scrollIntoView({ block: 'nearest' });
        return;
      }
      warning.hidden = true;
      if (!original) {
        const set = (await jmap([[`${type}/set`, { create: { new: values } }, 's']])).get('s');
        if (set.notCreated?.new) throw setError(set.notCreated.new);
        $('#cred-dialog').close();
        state.keys.flash = `${capital(noun)} ${quoted(values.description)} created.`;
        showSecret({ title: `${capital(noun)} ${quoted(values.description)} created`, label: 'Secret', secret: set.created.new.secret, kind });
        await loadKeys();
        return;
      }
      const patch = changes(original, values, form);
      if (Object.keys(patch).length > 0) {
        const set = (await jmap([[`${type}/set`, { update: { [original.id]: patch } }, 's']])).get('s');
        if (set.notUpdated?.[original.id]) throw setError(set.notUpdated[original.id]);
      }
      $('#cred-dialog').close();
      const s = kind === 'apiKey' ? state.keys : state.apps;
      s.flash = Object.keys(patch).length ? `${capital(noun)} ${quoted(values.description)} saved.` : 'Nothing changed.';
      await (kind === 'apiKey' ? loadKeys() : loadApps());
    } catch (err) {
      showErrors(form, 'cred', err);
    }
  });
});

$('#key-new').addEventListener('click', () => openCredDialog('apiKey'));

// ---------------------------------------------------------------------------------------------------------------
// Confirmations: revoke, rotate

let confirmAction = null;

/** `grace`: a rotation, which offers how long the old secret keeps working (passed to the action in seconds). */
function askConfirm({ title, text, ok, action, grace = false }) {
  const form = $('#confirm-form');
  clearErrors(form);
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = ok;
  $('#confirm-grace-field').hidden = !grace;
  $('#confirm-grace').value = '0';
  confirmAction = () => action(grace ? Number($('#confirm-grace').value) : 0);
  // Cancel has the focus: Enter on a destructive dialog should not destroy.
  openDialog($('#confirm-dialog'), $('#confirm-dialog [data-close]'));
}

$('#confirm-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  await busy($('#confirm-ok'), async () => {
    try {
      await confirmAction();
    } catch (err) {
      showErrors(form, 'confirm', err);
    }
  });
});

function revokeKey(key) {
  askConfirm({
    title: `Revoke API key ${quoted(key.description)}?`,
    text: 'Anything using this key loses access on its very next request. This cannot be undone.',
    ok: 'Revoke key',
    async action() {
      const set = (await jmap([['x:ApiKey/set', { destroy: [key.id] }, 's']])).get('s');
      if (set.notDestroyed?.[key.id]) throw setError(set.notDestroyed[key.id]);
      $('#confirm-dialog').close();
      state.keys.flash = `API key ${quoted(key.description)} revoked.`;
      await loadKeys();
    },
  });
}

function revokeApp(app) {
  askConfirm({
    title: `Revoke app password ${quoted(app.description)}?`,
    text: 'Mail apps using it are signed out at their next login. This cannot be undone.',
    ok: 'Revoke password',
    async action() {
      await http(`${REST}/${encodeURIComponent(app.id)}`, { method: 'DELETE' });
      $('#confirm-dialog').close();
      state.apps.flash = `App password ${quoted(app.description)} revoked.`;
      await loadApps();
    },
  });
}

const rotateText = 'A new secret with the same name, rights and limits replaces it. Clients need the new one; choose how long the old one keeps working meanwhile.';
const rotatedNote = (previousExpiresAt, grace) => (grace > 0 ? ` The old one works until ${formatDate(previousExpiresAt)}.` : ' The old one no longer works.');

function rotateApp(app) {
  askConfirm({
    title: `Rotate app password ${quoted(app.description)}?`,
    text: rotateText,
    ok: 'Rotate',
    grace: true,
    async action(graceSeconds) {
      const made = await http(`${REST}/${encodeURIComponent(app.id)}/rotate`, { method: 'POST', body: { graceSeconds } });
      $('#confirm-dialog').close();
      state.apps.flash = `App password ${quoted(app.description)} rotated.${rotatedNote(made.previousExpiresAt, graceSeconds)}`;
      showSecret({ title: `New password for ${quoted(made.name)}`, label: 'App password', secret: made.apiKey, kind: 'appPassword' });
      await loadApps();
    },
  });
}

function rotateKey(key) {
  askConfirm({
    title: `Rotate API key ${quoted(key.description)}?`,
    text: rotateText,
    ok: 'Rotate',
    grace: true,
    async action(graceSeconds) {
      const made = (await jmap([['x:ApiKey/rotate', { id: key.id, graceSeconds }, 'r']])).get('r');
      $('#confirm-dialog').close();
      state.keys.flash = `API key ${quoted(key.description)} rotated.${rotatedNote(made.previousExpiresAt, graceSeconds)}`;
      showSecret({ title: `New secret for ${quoted(key.description)}`, label: 'API key', secret: made.secret, kind: 'apiKey' });
      await loadKeys();
    },
  });
}

/** Every credential of one kind, in one transaction on the server (x:…/revokeAll); the page's cookie is none of them. */
function revokeAllOf(kind) {
  const { type, noun } = KINDS[kind];
  const nouns = `${noun}s`;
  askConfirm({
    title: `Revoke all ${nouns}?`,
    text: kind === 'apiKey'
      ? 'Every API key of your account stops working at once, on every server node. Scripts and tools need new keys. This cannot be undone.'
      : 'Every app password of your account stops working at once: mail apps and devices must be set up again. This cannot be undone.',
    ok: `Revoke all ${nouns}`,
    async action() {
      const done = (await jmap([[`${type}/revokeAll`, {}, 'r']])).get('r');
      $('#confirm-dialog').close();
      const kept = Object.keys(done.notDestroyed ?? {}).length;
      const s = kind === 'apiKey' ? state.keys : state.apps;
      s.flash = `Revoked ${plural(done.destroyed.length, noun, nouns)}.${kept ? ` ${plural(kept, 'internal one was', 'internal ones were')} kept: only an administrator may revoke those.` : ''}`;
      await (kind === 'apiKey' ? loadKeys() : loadApps());
    },
  });
}

$('#key-revoke-all').addEventListener('click', () => revokeAllOf('apiKey'));
$('#app-revoke-all').addEventListener('click', () => revokeAllOf('appPassword'));

// ---------------------------------------------------------------------------------------------------------------
// App passwords and mobile keys (REST)

async function restCreate(form, prefix, url, body, after) {
  clearErrors(form);
  await busy(form.querySelector('button[type=submit]'), async () => {
    try {
      const made = await http(url, { method: 'POST', body });
      form.closest('dialog').close();
      state.apps.flash = `App password ${quoted(made.name)} created.`;
      await after(made);
      await loadApps();
    } catch (err) {
      showErrors(form, prefix, err);
    }
  });
}

$('#app-new').addEventListener('click', () => {
  const form = $('#app-form');
  form.reset();
  clearErrors(form);
  openDialog($('#app-dialog'), form.elements.name);
});

$('#app-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const scopes = $$('input[name=scopes]:checked', form).map((i) => i.value);
  restCreate(form, 'app', REST, { name: form.elements.name.value.trim(), scopes }, (made) => {
    showSecret({ title: `App password ${quoted(made.name)} created`, label: 'App password', secret: made.apiKey, kind: 'appPassword', scopes: made.scopes });
  });
});

$('#mobile-new').addEventListener('click', () => {
  const form = $('#mobile-form');
  form.reset();
  clearErrors(form);
  openDialog($('#mobile-dialog'), form.elements.name);
});

$('#mobile-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const body = { name: form.elements.name.value.trim(), platform: form.elements.platform.value, deviceId: form.elements.deviceId.value.trim() };
  restCreate(form, 'mobile', `${REST}/mobile`, body, (made) => {
    showSecret({ title: `${quoted(made.name)} is ready to set up`, label: 'App password', secret: made.apiKey, kind: 'appPassword',
      profileUrl: made.setupUrl, apple: Boolean(made.mobileconfigUrl), scopes: made.scopes });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The account's own password

$('#password-new').addEventListener('click', () => {
  const form = $('#password-form');
  form.reset();
  clearErrors(form);
  openDialog($('#password-dialog'), form.elements.currentPassword);
});

$('#password-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const currentPassword = form.elements.currentPassword.value;
  const newPassword = form.elements.newPassword.value;
  if (newPassword !== form.elements.repeat.value) {
    showErrors(form, 'password', new ApiError('Please correct the marked fields.', { repeat: 'The two new passwords differ.' }));
    return;
  }
  await busy($('#password-submit'), async () => {
    try {
      const revokeCredentials = form.elements.revokeCredentials.checked;
      const made = await http('/web/password', { method: 'POST', body: { currentPassword, newPassword, revokeCredentials } });
      csrf = made.csrfToken;
      $('meta[name="csrf-token"]').content = csrf;
      $('#password-dialog').close();
      $('#page-flash')?.remove();
      const revoked = made.revoked ? ` ${plural(made.revoked.apiKeys, 'API key', 'API keys')} and ${plural(made.revoked.appPasswords, 'app password', 'app passwords')} were revoked.` : '';
      $('#main').prepend(h('p', { class: 'status', id: 'page-flash', role: 'status' }, `Your password was changed. Your other sign-ins have ended.${revoked}`));
      if (made.revoked) await Promise.all([loadKeys(), loadApps()]);
    } catch (err) {
      showErrors(form, 'password', err);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The secret, shown once

async function qrImage(url) {
  const res = await fetch('/web/qr', {
    method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ data: url }),
  });
  if (!res.ok) throw new ApiError('The QR code could not be drawn.');
  const svg = await res.text();
  return h('img', { id: 'qr-image', src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, alt: 'QR code of the one-time setup link' });
}

/** The settings a mail app needs: only the protocols the password's scopes allow, and the name that logs in. */
function mailSettings(scopes) {
  const pairs = [['User name', connectionInfo?.username ?? data.login]];
  const allowed = (p) => !scopes || scopes.includes('app') || scopes.includes(p);
  for (const [p, label] of PROTOCOLS) {
    const info = connectionInfo?.[p];
    if (info?.enabled && allowed(p)) pairs.push([label, `${info.serverName}, port ${info.securePort} (TLS) or ${info.port} (STARTTLS)`]);
  }
  return h('dl', { class: 'pairs' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

async function showSecret({ title, label, secret, kind, profileUrl, apple, scopes }) {
  $('#secret-title').textContent = title;
  $('#secret-label').textContent = label;
  $('#secret-value').value = secret;
  $('#secret-copied').textContent = '';
  const extra = $('#secret-extra');
  extra.replaceChildren();
  if (kind === 'apiKey') {
    extra.append(h('p', { class: 'muted small' }, 'Send it in the ', h('code', {}, 'Authorization: Bearer …'),
      ' header to the JMAP endpoint ', h('code', {}, new URL(session.apiUrl, location.href).href), '.'));
  } else {
    if (!connectionInfo) connectionInfo = (await http(REST).catch(() => null))?.connectionInfo ?? null;
    if (profileUrl) {
      const box = h('div', { class: 'qr' }, h('p', {}, 'Scan this code with the device’s camera to ',
        apple ? 'install a mail profile with this password' : 'open a page with the mail settings and this password',
        '. The link works ', h('strong', {}, 'once'), ' and expires in 10 minutes.'),
        // On the phone itself there is nothing to scan: the same link, to tap.
        h('p', {}, h('a', { id: 'qr-link', href: profileUrl, rel: 'noreferrer' }, apple ? 'On this device? Install the profile' : 'On this device? Open the settings')));
      const linkHost = new URL(profileUrl).hostname;
      if (/^(127\.|0\.0\.0\.0$|\[?::1?\]?$|localhost$)/i.test(linkHost)) {
        box.append(h('p', { class: 'warning', id: 'qr-loopback', role: 'status' }, `This link points at ${linkHost}, which a phone cannot reach. `,
          'The server needs JMAP_KEYS_PUBLIC_URL set to an address the phone can open.'));
      }
      extra.append(box);
      try {
        box.prepend(await qrImage(profileUrl));
      } catch (err) {
        box.append(h('p', { class: 'field-error' }, err.message));
      }
    }
    extra.append(h('p', { class: 'muted small' }, 'Mail app settings:'), mailSettings(scopes));
  }
  openDialog($('#secret-dialog'), $('#secret-copy'));
}

$('#secret-copy').addEventListener('click', async () => {
  const input = $('#secret-value');
  let copied = false;
  try {
    await navigator.clipboard.writeText(input.value);
    copied = true;
  } catch {
    input.select();
    copied = document.execCommand('copy');
  }
  $('#secret-copied').textContent = copied ? 'Copied to the clipboard.' : 'Could not copy: select the secret and copy it by hand.';
});

// Esc would lose the secret for good: ask first (the "I have saved it" button closes at once).
$('#secret-dialog').addEventListener('cancel', (event) => {
  if (!$('#secret-leave').hidden) return;
  event.preventDefault();
  $('#secret-leave').hidden = false;
  $('#secret-stay').focus();
});
$('#secret-stay').addEventListener('click', () => {
  $('#secret-leave').hidden = true;
  $('#secret-copy').focus();
});
$('#secret-leave-anyway').addEventListener('click', () => $('#secret-dialog').close());

// Gone from the page once the dialog is closed.
$('#secret-dialog').addEventListener('close', () => {
  $('#secret-leave').hidden = true;
  $('#secret-value').value = '';
  $('#secret-extra').replaceChildren();
});

// ---------------------------------------------------------------------------------------------------------------
// Activity: the audit trail (x:AuditEvent), newest first; for one credential from its row's Activity button

const EVENT_NAMES = {
  'credential.created': 'Credential created', 'credential.updated': 'Credential changed', 'credential.rotated': 'Credential rotated',
  'credential.destroyed': 'Credential revoked', 'credential.leaked': 'Reported leaked, revoked', 'account.created': 'Account created', 'account.passwordChanged': 'Password changed',
  'account.deleted': 'Account deleted', 'web.signIn': 'Signed in', 'web.signOut': 'Signed out',
};
const VIA_NAMES = { jmap: 'JMAP', rest: 'REST', web: 'web page', cli: 'command line', server: 'server', 'leak-report': 'leak report' };
const ACTIVITY_LIMIT = 200;

function eventChanges(e) {
  const d = e.details ?? {};
  if (e.type === 'credential.updated') return Object.keys(d).join(', ');
  if (e.type === 'credential.rotated') return `replaces ${d.previousId}${d.graceSeconds ? `, which worked until ${formatDate(d.previousExpiresAt)}` : ''}`;
  if (e.type === 'credential.leaked') return d.url ? `found at ${d.url}` : 'reported leaked';
  if (e.type === 'credential.destroyed' && d.revokedBy) return d.revokedBy === 'passwordChange' ? 'with the password change' : 'with revoke all';
  return '';
}

function activityRow(e) {
  const d = e.details ?? {};
  const kind = e.credentialKind === 'appPassword' ? 'app password' : e.credentialKind === 'apiKey' ? 'API key' : '';
  const who = (id) => (id === session.accountId ? `you (${data.login})` : `account ${id}`);
  const by = e.actorAccountId === null ? VIA_NAMES[e.via] ?? e.via
    : `${who(e.actorAccountId)}${e.actorCredentialId ? ` with key ${e.actorCredentialId}` : ''} · ${VIA_NAMES[e.via] ?? e.via}`;
  return h('tr', { 'data-id': e.id },
    h('td', { class: 'first', 'data-label': 'When' }, dateCell(e.at, '—')),
    h('td', { 'data-label': 'Event' }, h('span', { class: 'name' }, EVENT_NAMES[e.type] ?? e.type), eventChanges(e) ? h('span', { class: 'sub' }, eventChanges(e)) : null),
    h('td', { 'data-label': 'Credential' }, e.credentialId ? [d.description ?? e.credentialId, kind ? h('span', { class: 'sub' }, `${kind} ${e.credentialId}`) : null] : '—'),
    h('td', { 'data-label': 'Account' }, e.accountId === session.accountId ? data.login : d.login ?? (e.accountId ? `account ${e.accountId}` : '—')),
    h('td', { 'data-label': 'By' }, by),
    h('td', { 'data-label': 'From', class: 'mono' }, e.clientAddress ?? '—'));
}

async function loadActivity() {
  const s = state.activity;
  const conditions = {};
  if (s.type) conditions.type = s.type;
  if (s.credential) conditions.credentialId = s.credential.id;
  try {
    const responses = await jmap([
      ['x:AuditEvent/query', { filter: Object.keys(conditions).length ? conditions : null, limit: ACTIVITY_LIMIT, calculateTotal: true }, 'q'],
      ['x:AuditEvent/get', { '#ids': { resultOf: 'q', name: 'x:AuditEvent/query', path: '/ids' } }, 'g'],
    ]);
    clearPageError();
    const items = responses.get('g').list;
    const total = responses.get('q').total ?? items.length;
    $('#activity-table tbody').replaceChildren(...(items.length ? items.map(activityRow) : [emptyRow(6, 'No activity matches.')]));
    const about = s.credential ? ` for ${quoted(s.credential.description)}` : '';
    $('#activity-status').textContent = total > items.length ? `Showing the newest ${items.length} of ${total} events${about}.` : `${plural(items.length, 'event', 'events')}${about}.`;
  } catch (err) {
    pageError(err);
  }
}

function showActivity(credential) {
  state.activity.credential = credential;
  selectTab($('#tab-activity'), { focus: true });
}

$('#activity-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  state.activity.type = $('#activity-type').value;
  loadActivity();
});
$('#activity-filter').addEventListener('reset', () => {
  state.activity.type = '';
  state.activity.credential = null;
  setTimeout(loadActivity);
});

// ---------------------------------------------------------------------------------------------------------------
// Tabs (arrow keys move between them) and start-up

const tabs = $$('[role=tab]');

function selectTab(tab, { focus = false, load = true } = {}) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
  }
  $('#crumb-current').textContent = tab.textContent;
  document.title = `${tab.textContent} · jmap-keys`;
  history.replaceState(null, '', `#${tab.dataset.hash}`);
  if (focus) tab.focus();
  if (load) ({ 'tab-apps': loadApps, 'tab-activity': loadActivity }[tab.id] ?? loadKeys)();
}

for (const tab of tabs) tab.addEventListener('click', () => selectTab(tab));
$('[role=tablist]').addEventListener('keydown', (event) => {
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  selectTab(tabs[(next + tabs.length) % tabs.length], { focus: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Live updates: the session's eventSourceUrl (RFC 8620 push); the session cookie authenticates it

/** Reloads the open tab's list when a state event names its type (a change here, in another tab, on any node). */
/** Runs a list reload as a live one (see statusText). */
function live(load) {
  liveReload = true;
  Promise.resolve(load()).finally(() => { liveReload = false; });
}

function listen(template) {
  if (!template || typeof EventSource === 'undefined') return;
  // The page's own origin (connect-src 'self'), whatever public address the session names. A ping every 15 s: the
  // list is reloaded with it too, since last use is not a change that moves a state.
  const url = new URL(template.replace('{types}', '*').replace('{closeafter}', 'no').replace('{ping}', '15'), location.href);
  const source = new EventSource(url.pathname + url.search);
  const openTab = () => tabs.find((t) => t.getAttribute('aria-selected') === 'true')?.id;
  source.addEventListener('state', (event) => {
    let change;
    try {
      change = JSON.parse(event.data);
    } catch {
      return;
    }
    const types = new Set(Object.values(change?.changed ?? {}).flatMap((t) => Object.keys(t ?? {})));
    const tab = openTab();
    if (tab === 'tab-keys' && types.has('x:ApiKey')) live(loadKeys);
    else if (tab === 'tab-apps' && types.has('x:AppPassword')) live(loadApps);
    else if (tab === 'tab-activity') loadActivity();
  });
  source.addEventListener('ping', () => {
    // Not while the page is hidden or the keyboard is in a table (a reload would take the focus away).
    if (document.hidden || document.activeElement?.closest('table')) return;
    const tab = openTab();
    if (tab === 'tab-keys') live(loadKeys);
    else if (tab === 'tab-apps') live(loadApps);
  });
}

async function start() {
  try {
    // The JMAP session names the API endpoint and its limits, as for any client.
    const s = await http('/jmap/session');
    session.apiUrl = new URL(s.apiUrl, location.href).pathname;
    session.accountId = s.primaryAccounts?.['urn:stalwart:jmap'] ?? null;
    session.maxObjects = Math.min(s.capabilities?.['urn:ietf:params:jmap:core']?.maxObjectsInGet ?? 500, 500);
    listen(s.eventSourceUrl);
  } catch (err) {
    pageError(err);
    return;
  }
  selectTab(tabs.find((t) => `#${t.dataset.hash}` === location.hash) ?? $('#tab-keys'));
}

window.addEventListener('hashchange', () => {
  const tab = tabs.find((t) => `#${t.dataset.hash}` === location.hash);
  if (tab && tab.getAttribute('aria-selected') !== 'true') selectTab(tab);
});

start();
