-- The core schema: regions, networks, partners, grants and the audit log.
-- Geometry is stored as GeoJSON text (WGS84, RFC 7946 winding): readable with sqlite3,
-- exact to the 1e-6 grid the data uses, and parsed once at start into the R-tree cache.
-- Dates are ISO 8601 text (`2025-03-15`); timestamps are RFC 3339 UTC text.

-- Administrative units, shared by all networks. `parent_adcode` is NULL for provinces.
CREATE TABLE regions (
    adcode        TEXT PRIMARY KEY NOT NULL CHECK (length(adcode) = 6),
    name          TEXT NOT NULL,
    level         TEXT NOT NULL CHECK (level IN ('province', 'city', 'district')),
    parent_adcode TEXT REFERENCES regions (adcode),
    area_km2      REAL NOT NULL,
    min_lon REAL NOT NULL, min_lat REAL NOT NULL, max_lon REAL NOT NULL, max_lat REAL NOT NULL,
    geometry      TEXT NOT NULL
);
CREATE INDEX regions_parent ON regions (parent_adcode);
CREATE INDEX regions_level ON regions (level);

-- A brand's network; `policy` names a bundled policy file (data/policies/<policy>.json).
CREATE TABLE networks (
    code       TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    policy     TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE partners (
    id         INTEGER PRIMARY KEY,
    network    TEXT NOT NULL REFERENCES networks (code),
    name       TEXT NOT NULL,
    tier       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (network, name)
);

-- Grants are never deleted: revoking sets status = 'revoked' and keeps the row.
-- `seq` is the value of state.grants_seq after the write that last changed the row: an
-- instance whose cache is at seq N reloads only rows with seq > N (see exclusivity.rs).
CREATE TABLE grants (
    id            INTEGER PRIMARY KEY,
    network       TEXT NOT NULL REFERENCES networks (code),
    partner_id    INTEGER NOT NULL REFERENCES partners (id),
    adcodes       TEXT,           -- JSON array of adcodes for a grant by regions; NULL if drawn
    geometry      TEXT NOT NULL,  -- MultiPolygon: the union of the regions, or the drawn area
    area_km2      REAL NOT NULL,
    min_lon REAL NOT NULL, min_lat REAL NOT NULL, max_lon REAL NOT NULL, max_lat REAL NOT NULL,
    exclusive     INTEGER NOT NULL CHECK (exclusive IN (0, 1)),
    valid_from    TEXT NOT NULL,
    valid_to      TEXT CHECK (valid_to IS NULL OR valid_to >= valid_from),
    status        TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    note          TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    revoked_at    TEXT,
    revoke_reason TEXT,
    seq           INTEGER NOT NULL
);
CREATE INDEX grants_network ON grants (network, status);
CREATE INDEX grants_seq ON grants (seq);
CREATE INDEX grants_partner ON grants (partner_id);

-- Every grant decision: granted, refused (with the conflicts), revoked.
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    network   TEXT NOT NULL,
    at        TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('grant', 'revoke')),
    result    TEXT NOT NULL CHECK (result IN ('granted', 'refused', 'revoked')),
    grant_id  INTEGER REFERENCES grants (id),
    request   TEXT NOT NULL,  -- the request body as JSON
    conflicts TEXT NOT NULL   -- JSON array of conflict entries (empty unless refused)
);
CREATE INDEX audit_network ON audit (network, id);

-- Counters. grants_seq rises by one with every grant write (insert or revoke).
CREATE TABLE state (
    key   TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
INSERT INTO state (key, value) VALUES ('grants_seq', 0);
