#!/usr/bin/env node
// `npm run build` (also run by `npm ci` through `prepare`): compiles src/ into dist/ with tsc, copies the files
// the code reads at run time, and stamps the build with the time it started (launch.js compares it with the
// sources' modification times).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST, STAMP } from './launch.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const startedAt = Date.now();
rmSync(STAMP, { force: true });
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // A production install without devDependencies: no build, and launch.js runs the sources through tsx.
  console.error('jmap-keys: typescript is not installed (npm install --omit=dev?); not building dist/, the sources will run through tsx');
  process.exit(0);
}
const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
for (const asset of ['auth/permissions.txt', 'web/assets']) {
  mkdirSync(join(DIST, asset, '..'), { recursive: true });
  cpSync(join(ROOT, 'src', asset), join(DIST, asset), { recursive: true });
}
writeFileSync(STAMP, `${JSON.stringify({ startedAt })}\n`);
