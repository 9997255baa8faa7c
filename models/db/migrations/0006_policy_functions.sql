-- Two policies the schema must repeat from Python, each written once here as a function that the index,
-- the trigger and the store's queries all call. Their Python homes are models.records.OPEN_STATES and
-- router.escalation.is_pending; tests/models/store/test_policy_functions.py ties each pair state by state.

-- States in which an incident still absorbs new events: at most one such incident per dedup key.
CREATE FUNCTION gridwatch_open_state(state text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT state IN ('reported', 'dispatched', 'accepted', 'in_progress', 'returned', 'reopened') $$;

DROP INDEX incidents_open_dedup;
-- One open incident per dedup key: the database, not the application, prevents duplicate reports.
-- INSERT … ON CONFLICT (dedup_key) WHERE gridwatch_open_state(state) names this index by its predicate.
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (dedup_key) WHERE gridwatch_open_state(state);

-- Whether a deadline timer of `kind` still guards a step an incident in `state` has not taken yet.
CREATE FUNCTION gridwatch_timer_pending(kind text, state text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE kind
        WHEN 'accept' THEN state IN ('reported', 'dispatched')
        WHEN 'arrive' THEN state IN ('reported', 'dispatched', 'accepted')
        WHEN 'resolve' THEN state IN ('reported', 'dispatched', 'accepted', 'in_progress', 'reopened')
        ELSE false
    END $$;

-- Whatever path moves an incident on (API, CLI, a second node) stops the clocks the new state satisfies,
-- in the same transaction: accepting stops the accept clock, starting work the arrive clock, ending it all.
CREATE OR REPLACE FUNCTION gridwatch_cancel_timers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE timers SET cancelled_at = now(), outcome = 'met:' || NEW.state
     WHERE incident_id = NEW.id AND fired_at IS NULL AND cancelled_at IS NULL
       AND NOT gridwatch_timer_pending(kind, NEW.state);
    RETURN NULL;
END $$;
