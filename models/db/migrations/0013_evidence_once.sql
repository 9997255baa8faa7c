-- Evidence is stored once per event and content. Across machines the link redelivers (JetStream acks after
-- the store commits; a centre that dies between commit and ack sees the message again), so a clip delivered
-- twice must not become a second evidence row. Events already have their key (events.id, the event's own
-- id from the camera), which makes a redelivered START fold into nothing; this gives clips theirs.
-- Copies stored before this key (none in one process: the in-process link never redelivers) are folded
-- first, keeping the oldest row, so the index can be built on any existing database.
DELETE FROM evidence v USING evidence w
 WHERE v.event_id = w.event_id AND v.role = w.role AND v.sha256 = w.sha256
   AND (v.created_at, v.id) > (w.created_at, w.id);
CREATE UNIQUE INDEX evidence_once ON evidence (event_id, role, sha256);
