CREATE TABLE `accounts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`login` text NOT NULL,
	`password_hash` text NOT NULL,
	`role` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `accounts_login` ON `accounts` (`login`);--> statement-breakpoint
CREATE TABLE `changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`kind` text NOT NULL,
	`record_id` integer NOT NULL,
	`op` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `changes_account` ON `changes` (`account_id`,`kind`,`seq`);--> statement-breakpoint
CREATE TABLE `credentials` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`kind` text NOT NULL,
	`description` text NOT NULL,
	`locator` text NOT NULL,
	`secret_hash` blob NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`permissions_mode` text NOT NULL,
	`permissions` text DEFAULT '[]' NOT NULL,
	`allowed_ips` text DEFAULT '[]' NOT NULL,
	`scopes` text,
	`platform` text,
	`device_id` text,
	`last_used_at` integer,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credentials_locator` ON `credentials` (`locator`);--> statement-breakpoint
CREATE INDEX `credentials_expires` ON `credentials` (`account_id`,`kind`,`expires_at`);--> statement-breakpoint
CREATE INDEX `credentials_created` ON `credentials` (`account_id`,`kind`,`created_at`);--> statement-breakpoint
CREATE INDEX `credentials_description` ON `credentials` (`account_id`,`kind`,`description`);