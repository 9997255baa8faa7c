-- Lateness per step, recorded when the step is taken. Until now a deadline met late left no trace: the
-- cancel trigger (0002/0006) stamps a met timer with the database's now() and 'met:<state>', not with the
-- instant of the step nor whether it came after due_at, and only a timer the escalator fired said "missed".
-- The log entry that takes a step (accept, start, resolve) now names the deadlines it met late, and each
-- timer it met keeps when (the step's own instant, the service clock's) and whether that was late.

ALTER TABLE timers
    ADD COLUMN met_at timestamptz,
    ADD COLUMN late   boolean;

ALTER TABLE incident_log
    ADD COLUMN late_steps text[] NOT NULL DEFAULT '{}';

-- The step's UPDATE of incidents.state ran first in the same transaction, and its cancel trigger stamped
-- the timers it satisfied with cancelled_at = now(), the transaction's instant: those are the ones this
-- entry met. Returns, rejections and hand-overs also cancel timers but meet no deadline, so only entries
-- that reach a working step count.
CREATE FUNCTION gridwatch_record_lateness() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.to_state NOT IN ('accepted', 'in_progress', 'resolved') OR NEW.from_state IS NULL THEN
        RETURN NEW;
    END IF;
    WITH met AS (
        UPDATE timers SET met_at = NEW.at, late = NEW.at > due_at
         WHERE incident_id = NEW.incident_id AND met_at IS NULL AND cancelled_at = now()
           AND outcome = 'met:' || NEW.to_state
        RETURNING kind, late
    )
    SELECT coalesce(array_agg(DISTINCT kind ORDER BY kind) FILTER (WHERE late), '{}') INTO NEW.late_steps
      FROM met;
    RETURN NEW;
END $$;
-- BEFORE INSERT triggers fire in name order (byte order); the leading underscore sorts before every
-- lower-case name, so this runs before any trigger that seals the row's content (a hash chain, say) and
-- what is sealed includes late_steps.
CREATE TRIGGER _incident_log_record_lateness BEFORE INSERT ON incident_log
    FOR EACH ROW EXECUTE FUNCTION gridwatch_record_lateness();
