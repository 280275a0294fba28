// Starts an entry point of jmap-keys (`main` for `npm start`, `cli/main` for the jmap-keys command): the
// compiled build in dist/ when it was made from the sources as they are now, else the TypeScript sources
// through tsx. A server runs compiled code (no transform at start-up, and about a tenth less CPU per request
// than the same code through tsx, bench/README.md), and an edited source tree is never served stale.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, 'dist');
export const STAMP = join(DIST, '.built');
/** What a build is made from: a change to any of these makes dist/ stale. */
export const BUILD_INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestMtime(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted file shows as a newer folder
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** True when dist/ holds a build started after the last change to its inputs. */
export function buildIsFresh() {
  if (!existsSync(STAMP)) return false;
  const { startedAt } = JSON.parse(readFileSync(STAMP, 'utf8'));
  return typeof startedAt === 'number' && BUILD_INPUTS.every((p) => newestMtime(join(ROOT, p)) < startedAt);
}

export async function launch(entry) {
  if (buildIsFresh()) {
    await import(pathToFileURL(join(DIST, `${entry}.js`)).href);
    return;
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(ROOT, 'src', `${entry}.ts`)).href);
}
