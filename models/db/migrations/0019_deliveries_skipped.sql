-- A channel may pass over an outbox row it does not announce (the chat robots take only openings,
-- escalations, reopenings and closings, never each sighting). Such a row is settled (delivered_at, so it
-- is no longer pending) and marked skipped, so a count of messages sent can leave it out.
ALTER TABLE deliveries ADD COLUMN skipped boolean NOT NULL DEFAULT false;
