-- no-transaction
-- Issue 21 (time): the outlet pipeline, reserved grants, partners as records.
--
-- Outlets move through stages (proposed → approved → under_construction → open → closed,
-- or rejected / cancelled), each dated; grants may be `reserved` until a date. Both need a
-- wider CHECK on `status`, and SQLite changes a CHECK only by rebuilding the table. Sales
-- refer to outlets and the audit to grants, so the rebuild follows SQLite's documented
-- procedure (https://sqlite.org/lang_altertable.html#otheralter): foreign keys off, one
-- transaction, the new table copied and renamed, the keys checked, foreign keys on. Hence
-- `no-transaction` above: `PRAGMA foreign_keys` does nothing inside a transaction. If any
-- statement fails, the process stops with the transaction open and SQLite rolls it back.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE outlets_new (
    id           INTEGER PRIMARY KEY,
    network      TEXT NOT NULL REFERENCES networks (code),
    partner_id   INTEGER REFERENCES partners (id),   -- NULL for a competitor's outlet
    competitor   INTEGER NOT NULL CHECK (competitor IN (0, 1)),
    brand        TEXT,
    name         TEXT NOT NULL,
    lon          REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat          REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    format       TEXT,
    role         TEXT,
    site_type    TEXT NOT NULL,
    -- The stage and the day each stage was reached (NULL: not reached, or not known).
    status       TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'under_construction', 'open', 'closed', 'rejected', 'cancelled')),
    proposed_on  TEXT,
    approved_on  TEXT,
    construction_started_on TEXT,
    planned_open_on TEXT,            -- the opening planned while in the pipeline
    opened_on    TEXT,
    closed_on    TEXT,               -- the day it closed, or was rejected or cancelled
    close_reason TEXT,
    land_m2      REAL CHECK (land_m2 >= 0),
    building_m2  REAL CHECK (building_m2 >= 0),
    showroom_m2  REAL CHECK (showroom_m2 >= 0),
    frontage_m   REAL CHECK (frontage_m >= 0),
    depth_m      REAL CHECK (depth_m >= 0),
    height_m     REAL CHECK (height_m >= 0),
    workshop_m2  REAL CHECK (workshop_m2 >= 0),
    bays_mech    REAL CHECK (bays_mech >= 0),
    bays_body    REAL CHECK (bays_body >= 0),
    bays_paint   REAL CHECK (bays_paint >= 0),
    paint_booths REAL CHECK (paint_booths >= 0),
    parts_m2     REAL CHECK (parts_m2 >= 0),
    staff        REAL CHECK (staff >= 0),
    note         TEXT NOT NULL DEFAULT '',
    external_id  TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CHECK ((competitor = 1) = (partner_id IS NULL))
);
INSERT INTO outlets_new (id, network, partner_id, competitor, brand, name, lon, lat, format, role, site_type, status,
        opened_on, closed_on, close_reason, land_m2, building_m2, showroom_m2, frontage_m, depth_m, height_m, workshop_m2,
        bays_mech, bays_body, bays_paint, paint_booths, parts_m2, staff, note, external_id, created_at, updated_at)
    SELECT id, network, partner_id, competitor, brand, name, lon, lat, format, role, site_type, status,
        opened_on, closed_on, close_reason, land_m2, building_m2, showroom_m2, frontage_m, depth_m, height_m, workshop_m2,
        bays_mech, bays_body, bays_paint, paint_booths, parts_m2, staff, note, external_id, created_at, updated_at
    FROM outlets;
DROP TABLE outlets;
ALTER TABLE outlets_new RENAME TO outlets;
CREATE INDEX outlets_network ON outlets (network, status);
CREATE INDEX outlets_partner ON outlets (partner_id);
CREATE UNIQUE INDEX outlets_external_id ON outlets (network, external_id) WHERE external_id IS NOT NULL;

-- A reserved grant holds its territory (exclusive like an active one) while its partner's
-- application is decided, until `reserved_until` (inclusive); after that day it holds
-- nothing, decided by the date whenever it is read. Confirming makes it active.
CREATE TABLE grants_new (
    id            INTEGER PRIMARY KEY,
    network       TEXT NOT NULL REFERENCES networks (code),
    partner_id    INTEGER NOT NULL REFERENCES partners (id),
    adcodes       TEXT,
    geometry      TEXT NOT NULL,
    area_km2      REAL NOT NULL,
    min_lon REAL NOT NULL, min_lat REAL NOT NULL, max_lon REAL NOT NULL, max_lat REAL NOT NULL,
    exclusive     INTEGER NOT NULL CHECK (exclusive IN (0, 1)),
    valid_from    TEXT NOT NULL,
    valid_to      TEXT CHECK (valid_to IS NULL OR valid_to >= valid_from),
    status        TEXT NOT NULL CHECK (status IN ('reserved', 'active', 'revoked')),
    reserved_until TEXT CHECK ((status = 'reserved') <= (reserved_until IS NOT NULL)),
    note          TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    revoked_at    TEXT,
    revoke_reason TEXT,
    seq           INTEGER NOT NULL
);
INSERT INTO grants_new (id, network, partner_id, adcodes, geometry, area_km2, min_lon, min_lat, max_lon, max_lat, exclusive,
        valid_from, valid_to, status, note, created_at, revoked_at, revoke_reason, seq)
    SELECT id, network, partner_id, adcodes, geometry, area_km2, min_lon, min_lat, max_lon, max_lat, exclusive,
        valid_from, valid_to, status, note, created_at, revoked_at, revoke_reason, seq
    FROM grants;
DROP TABLE grants;
ALTER TABLE grants_new RENAME TO grants;
CREATE INDEX grants_network ON grants (network, status);
CREATE INDEX grants_seq ON grants (seq);
CREATE INDEX grants_partner ON grants (partner_id);

-- Partners as records: contacts, the caller's own key (unique in the network) and a
-- status. A terminated partner's grants end on its `terminated_on` day.
ALTER TABLE partners ADD COLUMN contact_name TEXT;
ALTER TABLE partners ADD COLUMN contact_email TEXT;
ALTER TABLE partners ADD COLUMN contact_phone TEXT;
ALTER TABLE partners ADD COLUMN external_id TEXT;
ALTER TABLE partners ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'terminated'));
ALTER TABLE partners ADD COLUMN terminated_on TEXT;
ALTER TABLE partners ADD COLUMN updated_at TEXT;
CREATE UNIQUE INDEX partners_external_id ON partners (network, external_id) WHERE external_id IS NOT NULL;

-- The audit log also keeps every stage move of an outlet (who moved it, to what, on which
-- day), the reservations, confirmations and changes of a grant's end, and the changes and
-- terminations of partners.
CREATE TABLE audit_new (
    id        INTEGER PRIMARY KEY,
    network   TEXT NOT NULL,
    at        TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('grant', 'revoke', 'close', 'stage', 'confirm', 'valid_to', 'partner')),
    result    TEXT NOT NULL CHECK (result IN ('granted', 'refused', 'revoked', 'closed', 'reserved', 'confirmed', 'changed', 'updated', 'terminated',
                                              'proposed', 'approved', 'under_construction', 'open', 'rejected', 'cancelled')),
    grant_id  INTEGER REFERENCES grants (id),
    outlet_id INTEGER REFERENCES outlets (id),
    request   TEXT NOT NULL,
    conflicts TEXT NOT NULL,
    actor     TEXT
);
INSERT INTO audit_new (id, network, at, action, result, grant_id, request, conflicts, actor)
    SELECT id, network, at, action, result, grant_id, request, conflicts, actor FROM audit;
DROP TABLE audit;
ALTER TABLE audit_new RENAME TO audit;
CREATE INDEX audit_network ON audit (network, id);
CREATE INDEX audit_outlet ON audit (outlet_id) WHERE outlet_id IS NOT NULL;

COMMIT;
PRAGMA foreign_keys = ON;
