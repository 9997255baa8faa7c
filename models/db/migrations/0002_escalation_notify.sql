-- Deadlines as timers, per-channel delivery of the outbox, and what escalation changes on an incident.

ALTER TABLE incidents
    ADD COLUMN arrive_by        timestamptz,
    ADD COLUMN resolve_by       timestamptz,
    ADD COLUMN escalation_level smallint NOT NULL DEFAULT 0;

-- One row per deadline. A fired or cancelled timer is kept: it is the record that the deadline was met
-- or missed. Workers claim due rows with FOR UPDATE SKIP LOCKED, so several processes never fire one twice.
CREATE TABLE timers (
    id           bigserial PRIMARY KEY,
    incident_id  uuid NOT NULL REFERENCES incidents (id),
    kind         text NOT NULL CHECK (kind IN ('accept', 'arrive', 'resolve')),
    due_at       timestamptz NOT NULL,
    fired_at     timestamptz,
    cancelled_at timestamptz,
    outcome      text
);
CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX timers_incident ON timers (incident_id);

-- Whatever path moves an incident on (API, CLI, a second node) stops the clocks that step satisfies,
-- in the same transaction: accepting stops the accept clock, starting work the arrive clock, ending it all.
CREATE FUNCTION gridwatch_cancel_timers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE timers SET cancelled_at = now(), outcome = 'met:' || NEW.state
     WHERE incident_id = NEW.id AND fired_at IS NULL AND cancelled_at IS NULL
       AND (kind = 'accept' AND NEW.state IN ('accepted', 'in_progress')
            OR kind IN ('accept', 'arrive') AND NEW.state = 'in_progress'
            OR NEW.state IN ('resolved', 'verified', 'closed', 'rejected', 'returned'));
    RETURN NULL;
END $$;
CREATE TRIGGER incidents_cancel_timers AFTER UPDATE OF state ON incidents
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION gridwatch_cancel_timers();

-- Each notification channel (webhook, WeCom, DingTalk) tracks its own progress through the outbox;
-- the live feed keeps using outbox.delivered_at. A channel sees the rows written after it registered.
CREATE TABLE delivery_channels (
    name          text PRIMARY KEY,
    enabled       boolean NOT NULL DEFAULT true,
    registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
    channel         text NOT NULL REFERENCES delivery_channels (name) ON DELETE CASCADE,
    outbox_id       bigint NOT NULL REFERENCES outbox (id),
    incident_id     uuid,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    failed_at       timestamptz,
    via_digest      boolean NOT NULL DEFAULT false,
    last_error      text,
    PRIMARY KEY (channel, outbox_id)
);
CREATE INDEX deliveries_pending ON deliveries (channel, outbox_id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Fan-out happens inside the transaction that writes the outbox row, so no channel can miss one.
CREATE FUNCTION gridwatch_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deliveries (channel, outbox_id, incident_id)
    SELECT name, NEW.id, NEW.incident_id FROM delivery_channels WHERE enabled;
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_fan_out AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION gridwatch_fan_out();
