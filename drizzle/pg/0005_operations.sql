CREATE TABLE "meta" (
	"name" text PRIMARY KEY,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
	"at" bigint NOT NULL,
	"type" text NOT NULL,
	"account_id" bigint,
	"credential_id" bigint,
	"credential_kind" text,
	"actor_account_id" bigint,
	"actor_credential_id" bigint,
	"client_address" text,
	"via" text NOT NULL,
	"details" text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE INDEX "audit_account" ON "audit_events" ("account_id","id");
--> statement-breakpoint
CREATE INDEX "audit_at" ON "audit_events" ("at");
