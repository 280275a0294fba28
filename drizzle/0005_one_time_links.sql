CREATE TABLE `one_time_links` (
	`id` text PRIMARY KEY NOT NULL,
	`payload` blob NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `one_time_links_expires` ON `one_time_links` (`expires_at`);
