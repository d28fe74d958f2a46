-- What an UpdateUsage grant came to when the data plane applied it: the quota period it belongs
-- to and the period's effective limit. Replaying it is then idempotent (a restart or a resync
-- does not grant it again against newer counts). NULL until the data plane has applied it; a
-- new grant (INSERT OR REPLACE) clears it.
ALTER TABLE usage_remaining ADD COLUMN period_start TEXT;
ALTER TABLE usage_remaining ADD COLUMN effective_limit INTEGER;
