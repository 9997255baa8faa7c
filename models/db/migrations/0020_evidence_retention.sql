-- Retention prunes the bytes of evidence of cases that are no longer open; the row stays, so an incident
-- still shows that a snapshot or clip existed, when it was pruned and why (the audit trail names each one).
ALTER TABLE evidence ADD COLUMN pruned_at timestamptz;
ALTER TABLE evidence ADD COLUMN pruned_reason text;
-- Oldest first among what is still held: the order both the age rule and the quota rule prune in.
CREATE INDEX evidence_held_by_age ON evidence (created_at, id) WHERE pruned_at IS NULL;
