CREATE TABLE "accounts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
	"login" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_login" ON "accounts" ("login");
--> statement-breakpoint
CREATE TABLE "credentials" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
	"account_id" bigint NOT NULL REFERENCES "accounts"("id") ON DELETE CASCADE,
	"kind" text NOT NULL,
	"description" text NOT NULL,
	"locator" text NOT NULL,
	"secret_hash" bytea NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint,
	"permissions_mode" text NOT NULL,
	"permissions" text DEFAULT '[]' NOT NULL,
	"allowed_ips" text DEFAULT '[]' NOT NULL,
	"scopes" text,
	"platform" text,
	"device_id" text,
	"last_used_at" bigint
);
--> statement-breakpoint
CREATE UNIQUE INDEX "credentials_locator" ON "credentials" ("locator");
--> statement-breakpoint
CREATE INDEX "credentials_expires" ON "credentials" ("account_id", "kind", "expires_at");
--> statement-breakpoint
CREATE INDEX "credentials_created" ON "credentials" ("account_id", "kind", "created_at");
--> statement-breakpoint
CREATE INDEX "credentials_description" ON "credentials" ("account_id", "kind", (translate("description", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"));
--> statement-breakpoint
CREATE TABLE "account_states" (
	"account_id" bigint NOT NULL REFERENCES "accounts"("id") ON DELETE CASCADE,
	"kind" text NOT NULL,
	"seq" bigint NOT NULL,
	"n" integer NOT NULL,
	PRIMARY KEY ("account_id", "kind")
);
--> statement-breakpoint
CREATE TABLE "changes" (
	"account_id" bigint NOT NULL REFERENCES "accounts"("id") ON DELETE CASCADE,
	"kind" text NOT NULL,
	"seq" bigint NOT NULL,
	"record_id" bigint NOT NULL,
	"op" text NOT NULL,
	PRIMARY KEY ("account_id", "kind", "seq")
);
--> statement-breakpoint
CREATE TABLE "store_version" (
	"id" integer PRIMARY KEY,
	"n" bigint NOT NULL
);
--> statement-breakpoint
INSERT INTO "store_version" ("id", "n") VALUES (1, 0);
