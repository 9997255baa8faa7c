-- The whole loop: an on-the-way step (en_route), reasons for returns and rejections, the verifier's rating.
-- The two policy functions of 0006 follow models.records.OPEN_STATES and router.deadlines.is_pending again
-- (tests/models/store/test_policy_functions.py compares them state by state).

CREATE OR REPLACE FUNCTION gridwatch_open_state(state text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT state IN ('reported', 'dispatched', 'accepted', 'en_route', 'in_progress', 'returned',
                           'reopened') $$;
-- The index stores the function's answers: rebuild it with the new ones.
REINDEX INDEX incidents_open_dedup;

-- A reopened case waits to be dispatched again, so its accept and arrive clocks still run.
CREATE OR REPLACE FUNCTION gridwatch_timer_pending(kind text, state text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE kind
        WHEN 'accept' THEN state IN ('reported', 'dispatched', 'reopened')
        WHEN 'arrive' THEN state IN ('reported', 'dispatched', 'accepted', 'en_route', 'reopened')
        WHEN 'resolve' THEN state IN ('reported', 'dispatched', 'accepted', 'en_route', 'in_progress',
                                      'reopened')
        ELSE false
    END $$;

ALTER TABLE incident_log
    ADD COLUMN reason text,
    ADD COLUMN rating smallint CHECK (rating BETWEEN 1 AND 5);
