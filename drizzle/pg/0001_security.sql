CREATE TABLE "web_sessions" (
	"id" text PRIMARY KEY,
	"account_id" bigint NOT NULL REFERENCES "accounts"("id") ON DELETE CASCADE,
	"auth_time" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "web_sessions_account" ON "web_sessions" ("account_id");
--> statement-breakpoint
CREATE TABLE "window_counters" (
	"key" text PRIMARY KEY,
	"count" integer NOT NULL,
	"reset_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "window_counters_reset" ON "window_counters" ("reset_at");
