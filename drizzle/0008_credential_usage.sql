ALTER TABLE `credentials` ADD `last_used_from` text;
--> statement-breakpoint
ALTER TABLE `credentials` ADD `last_used_service` text;
