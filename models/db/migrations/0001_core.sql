-- Core schema: the hierarchy, grids, roster, cameras, events, evidence, incidents, their log and the outbox.

CREATE TABLE units (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]+$' AND length(code) IN (6, 9, 12, 15)),
    name        text NOT NULL,
    level       smallint NOT NULL CHECK (level IN (6, 9, 12, 15)),
    parent_code text REFERENCES units (code) ON DELETE CASCADE,
    CHECK (length(code) = level)
);

CREATE TABLE grids (
    code           text PRIMARY KEY REFERENCES units (code) ON DELETE CASCADE,
    name           text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('basic', 'exclusive')),
    exclusive_type text,
    households     integer,
    county_code    text NOT NULL,
    township_code  text NOT NULL,
    community_code text NOT NULL,
    -- GeoJSON geometry in WGS84 lon/lat; lookups run in memory (router.grids.GridIndex).
    geometry       jsonb NOT NULL,
    imported_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shifts (
    id           bigserial PRIMARY KEY,
    worker_id    text NOT NULL,
    name         text NOT NULL,
    phone        text NOT NULL,
    role         text NOT NULL CHECK (role IN ('grid_worker', 'grid_leader', 'community_duty',
                                               'township_duty', 'county_command')),
    unit_code    text NOT NULL REFERENCES units (code),
    weekdays     smallint[] NOT NULL,
    start_minute smallint NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute   smallint NOT NULL CHECK (end_minute BETWEEN 0 AND 1440)
);
CREATE INDEX shifts_unit ON shifts (unit_code);

CREATE TABLE cameras (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    source       text NOT NULL,
    frame_w      integer NOT NULL,
    frame_h      integer NOT NULL,
    mount        jsonb NOT NULL,
    calibration  jsonb NOT NULL DEFAULT '[]',
    zones        jsonb NOT NULL DEFAULT '[]',
    analysis_fps real NOT NULL DEFAULT 2,
    enabled      boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE incidents (
    id             uuid PRIMARY KEY,
    kind           text NOT NULL,
    state          text NOT NULL,
    severity       smallint NOT NULL,
    tier           text NOT NULL,
    department     text NOT NULL,
    category_code  text NOT NULL,
    unit_code      text NOT NULL,
    grid_code      text,
    grid_match     text NOT NULL,
    chain          jsonb NOT NULL,
    lon            double precision NOT NULL,
    lat            double precision NOT NULL,
    located_by     text NOT NULL,
    camera_id      text NOT NULL,
    dedup_key      text NOT NULL,
    title          text NOT NULL,
    assignee_id    text,
    assignee_name  text,
    assignee_phone text,
    duty           jsonb NOT NULL DEFAULT '{}',
    opened_at      timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    event_count    integer NOT NULL DEFAULT 1,
    accept_by      timestamptz,
    late           boolean NOT NULL DEFAULT false,
    version        integer NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- One open incident per dedup key: the database, not the application, prevents duplicate reports.
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (dedup_key)
    WHERE state IN ('reported', 'dispatched', 'accepted', 'in_progress', 'returned', 'reopened');
CREATE INDEX incidents_unit ON incidents (unit_code);
CREATE INDEX incidents_opened ON incidents (opened_at DESC);

CREATE TABLE incident_log (
    id          bigserial PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    from_state  text,
    to_state    text NOT NULL,
    action      text NOT NULL,
    actor       text NOT NULL,
    at          timestamptz NOT NULL,
    note        text NOT NULL DEFAULT '',
    attachments jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX incident_log_incident ON incident_log (incident_id, id);

CREATE TABLE events (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL,
    camera_id    text NOT NULL,
    zone_name    text,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    confidence   real NOT NULL,
    person_count integer,
    detections   jsonb NOT NULL DEFAULT '[]',
    lon          double precision,
    lat          double precision,
    incident_id  uuid REFERENCES incidents (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_incident ON events (incident_id);
CREATE INDEX events_started ON events (started_at DESC);

CREATE TABLE evidence (
    id         text PRIMARY KEY,
    event_id   uuid NOT NULL REFERENCES events (id),
    role       text NOT NULL,
    media_type text NOT NULL,
    sha256     text NOT NULL,
    size       integer NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_event ON evidence (event_id);

-- Written in the same transaction as the incident change it announces, delivered afterwards.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    incident_id  uuid,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    delivered_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;
