-- The audit trail and the incident log become append-only and tamper-evident (issue 12):
--  * a trigger refuses UPDATE, DELETE and TRUNCATE on both, for everyone, owner included;
--  * the service does its work as gridwatch_service, a role that may SELECT and INSERT them but not more
--    (models/store: each pool connection runs SET ROLE gridwatch_service; migrations run as the owner);
--  * each row stores the hash of its content and of the row before it (per table, one order), so an edit
--    by someone able to switch the trigger off (the database superuser) shows: `gridwatch audit verify`.
-- The serialization below is repeated in models/store/audit.py (the verifier recomputes it without
-- trusting these functions): change both together.

-- 1. The service's role. Roles belong to the whole cluster: another database on it (tests, a second
--    installation) may have created it already, or be creating it right now.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridwatch_service') THEN
        BEGIN
            CREATE ROLE gridwatch_service NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;  -- a concurrent migration won the race
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'gridwatch needs the role gridwatch_service and % may not create it',
                    current_user
                    USING HINT = 'as a superuser: CREATE ROLE gridwatch_service NOLOGIN; '
                                 'GRANT gridwatch_service TO ' || current_user || ';';
        END;
    END IF;
    -- The owner (who runs the migrations and opens the service's connections) takes the role on per
    -- connection with SET ROLE, so it must be a member with the SET option (PostgreSQL 16 gives whoever
    -- creates a role only ADMIN on it, not SET).
    IF NOT pg_has_role(current_user, 'gridwatch_service',
                       CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET'
                            ELSE 'MEMBER' END) THEN
        BEGIN
            EXECUTE format('GRANT gridwatch_service TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'the role gridwatch_service exists but % may not take it on', current_user
                USING HINT = 'as a superuser: GRANT gridwatch_service TO ' || current_user || ';';
        END;
    END IF;
END
$$;

-- 2. Rights: everything the service does elsewhere; on the audit tables only reading and appending.
-- (CONNECT and TEMPORARY on the database come from PUBLIC.)
GRANT USAGE ON SCHEMA public TO gridwatch_service;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON ALL TABLES IN SCHEMA public TO gridwatch_service;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO gridwatch_service;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO gridwatch_service;
-- Tables later migrations create (they run as this same owner) are the service's too, without each of
-- them having to remember it.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON TABLES TO gridwatch_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO gridwatch_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO gridwatch_service;

REVOKE ALL ON audit_log, incident_log FROM gridwatch_service;
GRANT SELECT, INSERT ON audit_log, incident_log TO gridwatch_service;
-- schema_migrations is the owner's business.
REVOKE ALL ON schema_migrations FROM gridwatch_service;
GRANT SELECT ON schema_migrations TO gridwatch_service;

-- 3. The chains. Each table's head (last sequence number and hash) lives in a table only the owner
--    writes: taking its row lock orders concurrent inserts, and the verifier compares the last row with
--    it, so cutting rows off the end shows too.
CREATE TABLE audit_chain_heads (
    table_name text PRIMARY KEY,
    seq        bigint NOT NULL,
    hash       text NOT NULL
);
REVOKE ALL ON audit_chain_heads FROM gridwatch_service;
GRANT SELECT ON audit_chain_heads TO gridwatch_service;

ALTER TABLE audit_log
    ADD COLUMN chain_seq bigint,
    ADD COLUMN prev_hash text,
    ADD COLUMN row_hash text;
ALTER TABLE incident_log
    ADD COLUMN chain_seq bigint,
    ADD COLUMN prev_hash text,
    ADD COLUMN row_hash text;

-- What a row's hash covers: its content, in a form that does not depend on session settings (an
-- instant as epoch seconds, not as text in the session's time zone).
CREATE FUNCTION gridwatch_audit_content(r audit_log) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT jsonb_build_array(r.id, r.chain_seq, extract(epoch FROM r.at)::text, r.actor, r.action,
                                   r.object_type, r.object_id, r.reason, r.client)::text $$;

CREATE FUNCTION gridwatch_incident_log_content(r incident_log) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT jsonb_build_array(r.id, r.chain_seq, r.incident_id::text, r.from_state, r.to_state,
                                   r.action, r.actor, extract(epoch FROM r.at)::text, r.note,
                                   r.attachments, r.reason, r.rating)::text $$;

CREATE FUNCTION gridwatch_chain_hash(prev text, content text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT encode(sha256(convert_to(prev || E'\n' || content, 'UTF8')), 'hex') $$;

-- SECURITY DEFINER: the service may not write the heads itself, only through appending a row.
CREATE FUNCTION gridwatch_chain_append() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$
DECLARE
    head audit_chain_heads%ROWTYPE;
    content text;
BEGIN
    SELECT * INTO head FROM audit_chain_heads WHERE table_name = TG_TABLE_NAME FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no chain head for %', TG_TABLE_NAME;
    END IF;
    NEW.chain_seq := head.seq + 1;
    NEW.prev_hash := head.hash;
    IF TG_TABLE_NAME = 'audit_log' THEN
        content := gridwatch_audit_content(NEW);
    ELSE
        content := gridwatch_incident_log_content(NEW);
    END IF;
    NEW.row_hash := gridwatch_chain_hash(NEW.prev_hash, content);
    UPDATE audit_chain_heads SET seq = NEW.chain_seq, hash = NEW.row_hash WHERE table_name = TG_TABLE_NAME;
    RETURN NEW;
END
$$;

CREATE FUNCTION gridwatch_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit and incident-log rows are never changed or removed; record a new row instead';
END
$$;

-- 4. Chain the rows already there, in id order, before the refusals exist. The lock keeps a service
--    still running the previous version from appending meanwhile.
LOCK TABLE audit_log, incident_log IN SHARE ROW EXCLUSIVE MODE;
DO $$
DECLARE
    genesis CONSTANT text := repeat('0', 64);
    prev text;
    n bigint;
    a audit_log;
    l incident_log;
BEGIN
    prev := genesis;
    n := 0;
    FOR a IN SELECT * FROM audit_log ORDER BY id LOOP
        n := n + 1;
        a.chain_seq := n;
        a.prev_hash := prev;
        prev := gridwatch_chain_hash(prev, gridwatch_audit_content(a));
        UPDATE audit_log SET chain_seq = n, prev_hash = a.prev_hash, row_hash = prev WHERE id = a.id;
    END LOOP;
    INSERT INTO audit_chain_heads VALUES ('audit_log', n, prev);

    prev := genesis;
    n := 0;
    FOR l IN SELECT * FROM incident_log ORDER BY id LOOP
        n := n + 1;
        l.chain_seq := n;
        l.prev_hash := prev;
        prev := gridwatch_chain_hash(prev, gridwatch_incident_log_content(l));
        UPDATE incident_log SET chain_seq = n, prev_hash = l.prev_hash, row_hash = prev WHERE id = l.id;
    END LOOP;
    INSERT INTO audit_chain_heads VALUES ('incident_log', n, prev);
END
$$;

ALTER TABLE audit_log
    ALTER COLUMN chain_seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN row_hash SET NOT NULL,
    ADD CONSTRAINT audit_log_chain_seq UNIQUE (chain_seq);
ALTER TABLE incident_log
    ALTER COLUMN chain_seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN row_hash SET NOT NULL,
    ADD CONSTRAINT incident_log_chain_seq UNIQUE (chain_seq);

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION gridwatch_chain_append();
CREATE TRIGGER incident_log_chain BEFORE INSERT ON incident_log
    FOR EACH ROW EXECUTE FUNCTION gridwatch_chain_append();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION gridwatch_append_only();
CREATE TRIGGER incident_log_append_only BEFORE UPDATE OR DELETE ON incident_log
    FOR EACH ROW EXECUTE FUNCTION gridwatch_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION gridwatch_append_only();
CREATE TRIGGER incident_log_no_truncate BEFORE TRUNCATE ON incident_log
    FOR EACH STATEMENT EXECUTE FUNCTION gridwatch_append_only();
