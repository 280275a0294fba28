ALTER TABLE "credentials" ADD COLUMN "last_used_from" text;
--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "last_used_service" text;
