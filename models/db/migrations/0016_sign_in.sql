-- Sign-in hardening (issue 15): sessions a user can list and end, and failed sign-ins that lock an account
-- or an address for a while. Kept in the database, not in process memory, so that a lockout holds across
-- restarts and across the processes of one centre.

-- One sign-in on one device: its refresh tokens rotate, the session stays. Access tokens name it (sid),
-- so ending a session refuses its access tokens at once, not only when they expire.
CREATE TABLE sessions (
    id           text PRIMARY KEY,
    username     text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    user_agent   text NOT NULL DEFAULT '',
    client       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    ended_by     text
);
CREATE INDEX sessions_open ON sessions (username) WHERE ended_at IS NULL;

ALTER TABLE refresh_tokens ADD COLUMN session_id text REFERENCES sessions (id) ON DELETE CASCADE;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id) WHERE revoked_at IS NULL;

-- kind 'user': a known user name; kind 'address': the client address, whatever name was typed.
CREATE TABLE sign_in_failures (
    id   bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('user', 'address')),
    key  text NOT NULL,
    at   timestamptz NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (kind, key, at);

CREATE TABLE sign_in_locks (
    kind         text NOT NULL CHECK (kind IN ('user', 'address')),
    key          text NOT NULL,
    locked_at    timestamptz NOT NULL,
    locked_until timestamptz NOT NULL,
    failures     integer NOT NULL,
    PRIMARY KEY (kind, key)
);
