-- Every change of an account or of a credential's authenticating columns, whoever makes it (a node, the CLI, or an
-- operator's psql session), notifies every node at commit, so their caches drop it. Last-use stamps do not.
CREATE FUNCTION "jmap_keys_notify_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('jmap_keys_changes', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "accounts_notify" AFTER INSERT OR UPDATE OR DELETE ON "accounts"
  FOR EACH STATEMENT EXECUTE FUNCTION "jmap_keys_notify_change"();
--> statement-breakpoint
CREATE TRIGGER "credentials_notify_rows" AFTER INSERT OR DELETE ON "credentials"
  FOR EACH STATEMENT EXECUTE FUNCTION "jmap_keys_notify_change"();
--> statement-breakpoint
CREATE TRIGGER "credentials_notify_update" AFTER UPDATE OF "account_id", "kind", "locator", "secret_hash", "expires_at",
  "permissions_mode", "permissions", "allowed_ips", "scopes" ON "credentials"
  FOR EACH STATEMENT EXECUTE FUNCTION "jmap_keys_notify_change"();
