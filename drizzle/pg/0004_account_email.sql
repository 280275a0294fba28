ALTER TABLE "accounts" ADD COLUMN "email" text;
--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_email" ON "accounts" ("email");
