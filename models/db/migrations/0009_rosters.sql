-- Live rosters: absences (leave with a named cover), and a roster version every change bumps and announces
-- on the channel gridwatch_roster, so a running centre reloads a roster another process wrote.

CREATE TABLE absences (
    id          bigserial PRIMARY KEY,
    worker_id   text NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    -- Who takes the absent worker's cases meanwhile; NULL lets the duty chain go on without them.
    cover_id    text,
    reason      text NOT NULL DEFAULT '',
    -- 'import': from a roster CSV (the next import replaces it); 'api': entered by hand (kept by imports).
    source      text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'import')),
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    CHECK (cover_id IS NULL OR cover_id <> worker_id)
);
CREATE INDEX absences_worker ON absences (worker_id, ends_at);

-- One row: the roster's version. A reader that missed a notification compares it with the one it loaded.
CREATE TABLE roster_state (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL DEFAULT 1
);
INSERT INTO roster_state DEFAULT VALUES;

CREATE FUNCTION gridwatch_roster_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    UPDATE roster_state SET version = version + 1 RETURNING version INTO v;
    -- Delivered at commit, and only if the change commits: a listener never reloads a half-written roster.
    PERFORM pg_notify('gridwatch_roster', v::text);
    RETURN NULL;
END $$;

CREATE TRIGGER shifts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON shifts
    FOR EACH STATEMENT EXECUTE FUNCTION gridwatch_roster_changed();
CREATE TRIGGER absences_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON absences
    FOR EACH STATEMENT EXECUTE FUNCTION gridwatch_roster_changed();
