-- Outlets: physical sites of partners (or of competitors), as points in WGS84.
-- Formats, roles and site types are validated against the network's standard and scoring
-- parameters by the service; the table keeps what was accepted. Outlets are never
-- deleted: closing sets status = 'closed' and keeps the row.
CREATE TABLE outlets (
    id           INTEGER PRIMARY KEY,
    network      TEXT NOT NULL REFERENCES networks (code),
    partner_id   INTEGER REFERENCES partners (id),   -- NULL for a competitor's outlet
    competitor   INTEGER NOT NULL CHECK (competitor IN (0, 1)),
    brand        TEXT,                               -- a competitor's brand
    name         TEXT NOT NULL,
    lon          REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat          REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    format       TEXT,
    role         TEXT,
    site_type    TEXT NOT NULL,
    opened_on    TEXT,
    status       TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    closed_on    TEXT,
    close_reason TEXT,
    -- facility figures, all optional, never negative
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
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CHECK ((competitor = 1) = (partner_id IS NULL))
);
CREATE INDEX outlets_network ON outlets (network, status);
CREATE INDEX outlets_partner ON outlets (partner_id);
