CREATE TABLE `credential_counts` (
	`account_id` integer NOT NULL,
	`kind` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`account_id`, `kind`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `credential_counts` (`account_id`, `kind`, `n`) SELECT `account_id`, `kind`, count(*) FROM `credentials` GROUP BY `account_id`, `kind`;
--> statement-breakpoint
CREATE TRIGGER `credentials_count_insert` AFTER INSERT ON `credentials` BEGIN
  INSERT INTO `credential_counts` (`account_id`, `kind`, `n`) VALUES (NEW.`account_id`, NEW.`kind`, 1)
    ON CONFLICT (`account_id`, `kind`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `credentials_count_delete` AFTER DELETE ON `credentials` BEGIN
  UPDATE `credential_counts` SET `n` = `n` - 1 WHERE `account_id` = OLD.`account_id` AND `kind` = OLD.`kind`;
END;
--> statement-breakpoint
CREATE TRIGGER `accounts_count_delete` AFTER DELETE ON `accounts` BEGIN
  DELETE FROM `credential_counts` WHERE `account_id` = OLD.`id`;
END;
