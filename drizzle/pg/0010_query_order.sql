-- x:ApiKey/query sorted by expiresAt reads its page off this index in both directions: forwards it is
-- expires_at ASC NULLS FIRST, id ASC (SQLite's NULL placement), backwards expires_at DESC NULLS LAST, id DESC, which is
-- exactly what src/db/credential-query.ts renders, filtered or not; with id in the index the page needs neither a sort
-- nor a heap fetch. The old (account_id, kind, expires_at) is ASC NULLS LAST, so an unfiltered expiry page sorted every
-- key of the account (bench/notes-perfread.md). PostgreSQL only: SQLite already sorts NULL first ascending, and its
-- credentials_expires carries the rowid (= id), so the same orders are its index orders.
DROP INDEX IF EXISTS "credentials_expires";
--> statement-breakpoint
CREATE INDEX "credentials_expires" ON "credentials" ("account_id", "kind", "expires_at" NULLS FIRST, "id");
