import type { JmapServer } from '../server.js';
import { standardChanges, standardQueryChanges } from './changes.js';
import { standardGet } from './get.js';
import { standardQuery } from './query.js';
import { standardSet } from './set.js';
import type { StandardType } from './type.js';

/** Registers Foo/get, /set, /query, /changes and /queryChanges for an object type. */
export function registerStandardMethods<I, C>(server: JmapServer, type: StandardType<I, C>): void {
  const capability = type.capability;
  server.register(`${type.name}/get`, { capability, handler: (args, ctx) => standardGet(type, args, ctx) });
  server.register(`${type.name}/set`, { capability, handler: (args, ctx) => standardSet(type, args, ctx) });
  server.register(`${type.name}/query`, { capability, handler: (args, ctx) => standardQuery(type, args, ctx) });
  server.register(`${type.name}/changes`, { capability, handler: (args, ctx) => standardChanges(type, args, ctx) });
  server.register(`${type.name}/queryChanges`, { capability, handler: (args, ctx) => standardQueryChanges(type, args, ctx) });
  // Its state is what /get reports, readable by whoever may /get: push channels report it on the same terms.
  server.addPushableType({ name: type.name, permission: type.permissions.get, state: (accountId) => type.state(accountId) });
}
