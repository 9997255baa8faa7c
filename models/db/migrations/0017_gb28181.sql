-- GB/T 28181 (ingest/gb28181): the devices and lower platforms registered with gridwatch, the channels
-- their catalogs list, and the registrations refused. The SIP layer holds the live state; these rows are
-- what `gridwatch gb status` and the console read, written as registrations, keepalives and catalogs arrive.
CREATE TABLE gb_devices (
    id                 text PRIMARY KEY CHECK (id ~ '^[0-9]{20}$'),
    transport          text NOT NULL CHECK (transport IN ('UDP', 'TCP')),
    address            text NOT NULL,
    online             boolean NOT NULL,
    offline_reason     text,
    registered_at      timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    last_keepalive_at  timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gb_channels (
    id          text PRIMARY KEY,
    device_id   text NOT NULL REFERENCES gb_devices (id) ON DELETE CASCADE,
    -- The catalog's ParentID: the device, a lower platform or a virtual organisation.
    parent_id   text,
    name        text NOT NULL,
    lon         double precision,
    lat         double precision,
    status      text NOT NULL DEFAULT '',
    -- The registry camera it was added as (its id), when it is a video channel with a position.
    camera_id   text,
    -- The live stream playing it, when one does (the media side of GB/T 28181).
    stream      text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gb_channels_device ON gb_channels (device_id);

CREATE TABLE gb_refusals (
    id         bigserial PRIMARY KEY,
    device_id  text NOT NULL,
    address    text NOT NULL,
    reason     text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
