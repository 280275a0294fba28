import type { AccountRow, CredentialRow, Store } from '../db/store.js';
import { errorFields, type Logger } from '../log.js';
import { nowSeconds } from '../util/utcdate.js';
import { addressDelivery } from './events.js';

const SEEN_MAX = 10_000;

/**
 * Notices the first use of a credential from an address. The request path pays nothing for a pair seen before
 * (a bounded in-memory set); a new pair costs one store write, not awaited: the note and, when no node noted it
 * before, its notification, atomically.
 */
export class NewAddressWatcher {
  private readonly seen = new Set<string>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly store: Store, private readonly log: Logger) {}

  used(credential: CredentialRow, account: AccountRow, address: string | undefined): void {
    if (!address) return;
    const key = `${credential.id} ${address}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= SEEN_MAX) this.seen.clear();
    this.seen.add(key);
    const now = nowSeconds();
    const write = this.store.noteOnce({ credentialId: credential.id, topic: 'address', value: address, at: now },
      addressDelivery(credential, account.login, address, now))
      .then(() => undefined, (err: unknown) => {
        this.seen.delete(key); // asked again at the next use
        this.log.warn({ ...errorFields(err), credentialId: credential.id }, 'could not note a new address of a credential');
      })
      .finally(() => { this.pending.delete(write); });
    this.pending.add(write);
  }

  /** Waits for the notes being written (before the store closes). */
  async stop(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}
