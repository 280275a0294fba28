import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { StoreOps } from '../db/store.js';

/**
 * One-time links whose payload (a new app password, for a phone's profile) lives in the store, so any node can
 * serve the link, once. The store never holds what it takes to read it: the row's id is an HMAC of the link's
 * token under the server key, and the payload is sealed (AES-256-GCM) under a key derived from the token itself,
 * which exists only in the URL handed to the user.
 */
export class OneTimeLinks<T> {
  private readonly idKey: Buffer;

  constructor(private readonly store: StoreOps, serverKey: Buffer, private readonly ttlSeconds: number) {
    this.idKey = createHmac('sha256', serverKey).update('jmap-keys one-time-link id v1').digest();
  }

  private id(token: string): string {
    return createHmac('sha256', this.idKey).update(token).digest('base64url');
  }

  private static key(token: string): Buffer {
    return createHmac('sha256', token).update('jmap-keys one-time-link seal v1').digest();
  }

  /** Stores the value; returns the link's token (the only way to it). */
  async add(value: T): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', OneTimeLinks.key(token), iv);
    const sealed = Buffer.concat([iv, cipher.update(JSON.stringify(value), 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const now = Math.floor(Date.now() / 1000);
    await this.store.putOneTimeLink(this.id(token), sealed, now + this.ttlSeconds, now);
    return token;
  }

  /** The value, without using the link up (a HEAD, a link preview). */
  async peek(token: string): Promise<T | undefined> {
    if (token.length > 100) return undefined;
    return this.open(token, await this.store.peekOneTimeLink(this.id(token), Math.floor(Date.now() / 1000)));
  }

  /** The value, once: the link is gone afterwards, on every node. */
  async take(token: string): Promise<T | undefined> {
    if (token.length > 100) return undefined;
    return this.open(token, await this.store.takeOneTimeLink(this.id(token), Math.floor(Date.now() / 1000)));
  }

  private open(token: string, sealed: Buffer | undefined): T | undefined {
    if (!sealed || sealed.length < 28) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', OneTimeLinks.key(token), sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      const plain = Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }
}
