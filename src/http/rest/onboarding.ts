import { randomUUID } from 'node:crypto';

/** Host, ports and switch of one mail protocol (the REST connectionInfo entry). */
export interface ProtocolInfo {
  serverName: string;
  port: number;
  securePort: number;
  enabled: boolean;
}
export interface ConnectionInfo {
  smtp: ProtocolInfo;
  pop3: ProtocolInfo;
  imap: ProtocolInfo;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** Thunderbird autoconfig (config-v1.1.xml). It names servers only: no secret is ever in it. */
export function autoconfigXml(info: ConnectionInfo, domain: string): string {
  const incoming = (type: 'imap' | 'pop3') => {
    const p = info[type];
    if (!p.enabled) return '';
    return [
      `    <incomingServer type="${type}">`, `      <hostname>${xml(p.serverName)}</hostname>`, `      <port>${p.securePort}</port>`,
      '      <socketType>SSL</socketType>', '      <authentication>password-cleartext</authentication>', '      <username>%EMAILADDRESS%</username>',
      '    </incomingServer>',
    ].join('\n');
  };
  const smtp = info.smtp.enabled ? [
    '    <outgoingServer type="smtp">', `      <hostname>${xml(info.smtp.serverName)}</hostname>`, `      <port>${info.smtp.port}</port>`,
    '      <socketType>STARTTLS</socketType>', '      <authentication>password-cleartext</authentication>', '      <username>%EMAILADDRESS%</username>',
    '    </outgoingServer>',
  ].join('\n') : '';
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${xml(domain)}">`,
    `    <domain>${xml(domain)}</domain>`,
    `    <displayName>${xml(domain)} mail</displayName>`,
    incoming('imap'), incoming('pop3'), smtp,
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].filter((l, i, all) => l !== '' || i === all.length - 1).join('\n');
}

/**
 * An Apple configuration profile (unsigned) with one IMAP account using the app password. `username` is a name
 * that logs in (the login or the account's address); `email` is the address Mail shows and sends from. Both
 * servers use implicit TLS on their secure ports, as the connection info lists them.
 */
export function mobileconfig(info: ConnectionInfo, account: { username: string; email: string; name: string; password: string }): string {
  const str = (k: string, v: string) => `\t\t\t<key>${k}</key>\n\t\t\t<string>${xml(v)}</string>`;
  const int = (k: string, v: number) => `\t\t\t<key>${k}</key>\n\t\t\t<integer>${v}</integer>`;
  const bool = (k: string, v: boolean) => `\t\t\t<key>${k}</key>\n\t\t\t<${v}/>`;
  const payloadId = randomUUID();
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>PayloadContent</key>
\t<array>
\t\t<dict>
${[
    str('EmailAccountDescription', account.name), str('EmailAccountType', 'EmailTypeIMAP'), str('EmailAddress', account.email),
    str('IncomingMailServerAuthentication', 'EmailAuthPassword'), str('IncomingMailServerHostName', info.imap.serverName),
    int('IncomingMailServerPortNumber', info.imap.securePort), bool('IncomingMailServerUseSSL', true),
    str('IncomingMailServerUsername', account.username), str('IncomingPassword', account.password),
    str('OutgoingMailServerAuthentication', 'EmailAuthPassword'), str('OutgoingMailServerHostName', info.smtp.serverName),
    int('OutgoingMailServerPortNumber', info.smtp.securePort), bool('OutgoingMailServerUseSSL', true),
    str('OutgoingMailServerUsername', account.username), bool('OutgoingPasswordSameAsIncomingPassword', true),
    str('PayloadDisplayName', account.name), str('PayloadIdentifier', `jmap-keys.mail.${payloadId}`),
    str('PayloadType', 'com.apple.mail.managed'), str('PayloadUUID', payloadId), int('PayloadVersion', 1),
  ].join('\n')}
\t\t</dict>
\t</array>
\t<key>PayloadDisplayName</key>
\t<string>${xml(account.name)}</string>
\t<key>PayloadIdentifier</key>
\t<string>jmap-keys.profile.${payloadId}</string>
\t<key>PayloadType</key>
\t<string>Configuration</string>
\t<key>PayloadUUID</key>
\t<string>${randomUUID()}</string>
\t<key>PayloadVersion</key>
\t<integer>1</integer>
</dict>
</plist>
`;
}

/**
 * The same settings as a small page, for devices that cannot install an Apple profile (Android, Windows, web
 * mail clients): each server with its port and security, the user name and the password, to type or copy.
 */
export function settingsPage(info: ConnectionInfo, account: { username: string; email: string; name: string; password: string; scopes: readonly string[] }): string {
  const e = xml;
  const rows: [string, string][] = [['Email address', account.email], ['User name', account.username], ['Password', account.password]];
  const offered = (scope: 'imap' | 'pop3' | 'smtp') => info[scope].enabled && (account.scopes.includes(scope) || account.scopes.includes('app'));
  if (offered('imap')) rows.push(['Incoming (IMAP)', `${info.imap.serverName}, port ${info.imap.securePort}, SSL/TLS`]);
  if (offered('pop3')) rows.push(['Incoming (POP3)', `${info.pop3.serverName}, port ${info.pop3.securePort}, SSL/TLS`]);
  if (offered('smtp')) rows.push(['Outgoing (SMTP)', `${info.smtp.serverName}, port ${info.smtp.securePort}, SSL/TLS (or ${info.smtp.port}, STARTTLS)`]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Mail settings: ${e(account.name)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:1.5rem;max-width:40rem}dt{font-weight:600;margin-top:.75rem}dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}</style>
</head><body><h1>Mail settings for ${e(account.name)}</h1>
<p>Add an account in your mail app (choose IMAP, or "other account") and enter these settings. This page is shown once: keep it open until the account works.</p>
<dl>${rows.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>
</body></html>
`;
}
