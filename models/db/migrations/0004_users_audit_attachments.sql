-- Users with a post in the hierarchy, machine API keys, refresh tokens, the audit trail and attachments.

CREATE TABLE users (
    username      text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.-]{1,64}$'),
    display_name  text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('grid_worker', 'grid_leader', 'community', 'township',
                                                'county_command', 'admin')),
    -- The unit whose subtree the user may see; '' for admins (everything).
    unit_code     text NOT NULL,
    worker_id     text,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    -- sha256 of the key: keys are random and long, so a fast hash is enough and lookups stay O(1).
    key_sha256  text NOT NULL UNIQUE,
    role        text NOT NULL,
    unit_code   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE refresh_tokens (
    jti        text PRIMARY KEY,
    username   text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    object_type text NOT NULL,
    object_id   text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    client      text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);

-- Photos and files handlers attach while working an incident (not camera evidence).
CREATE TABLE incident_attachments (
    id          text PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    media_type  text NOT NULL,
    sha256      text NOT NULL,
    size        integer NOT NULL,
    data        bytea NOT NULL,
    uploaded_by text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_attachments_incident ON incident_attachments (incident_id);
