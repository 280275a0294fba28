CREATE TABLE "one_time_links" (
	"id" text PRIMARY KEY,
	"payload" bytea NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "one_time_links_expires" ON "one_time_links" ("expires_at");
