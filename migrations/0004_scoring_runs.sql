-- The last scoring run of each network: the `candidates` layer of the exports, the OGC
-- API and the map. A new run replaces the previous one whole (in one transaction).
CREATE TABLE scoring_runs (
    network       TEXT PRIMARY KEY REFERENCES networks (code),
    run           INTEGER NOT NULL,   -- rises by one with each run of the network
    partner_id    INTEGER REFERENCES partners (id),
    network_total REAL NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE scored_candidates (
    network            TEXT NOT NULL REFERENCES networks (code),
    position           INTEGER NOT NULL,  -- 1-based, the order of the request
    candidate_id       TEXT NOT NULL,
    lon                REAL NOT NULL,
    lat                REAL NOT NULL,
    site_type          TEXT NOT NULL,     -- the best (or given) site type
    format             TEXT,              -- the format asked for
    recommended_format TEXT,
    expected_sales     REAL NOT NULL,
    cannibalised       REAL NOT NULL,
    net_gain           REAL NOT NULL,
    competitor_loss    REAL NOT NULL,
    catchment_demand   REAL NOT NULL,
    in_territory       INTEGER,           -- NULL without a partner
    allowed            INTEGER NOT NULL,
    by_site_type       TEXT,              -- JSON: each site type compared
    blocking_grants    TEXT,              -- JSON: grants that forbid the site
    PRIMARY KEY (network, position)
);
