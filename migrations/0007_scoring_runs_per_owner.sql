-- Scoring runs are kept per owner: `owner` is 0 for the network's own planners (HQ, the
-- CLI) and the partner's id for a partner token's runs, so that a partner's run never
-- replaces what HQ or another partner sees. Existing runs become HQ's.
CREATE TABLE scoring_runs_new (
    network       TEXT NOT NULL REFERENCES networks (code),
    owner         INTEGER NOT NULL DEFAULT 0,
    run           INTEGER NOT NULL,   -- rises by one with each run of the network and owner
    partner_id    INTEGER REFERENCES partners (id),
    network_total REAL NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (network, owner)
);
INSERT INTO scoring_runs_new (network, owner, run, partner_id, network_total, created_at)
    SELECT network, 0, run, partner_id, network_total, created_at FROM scoring_runs;
DROP TABLE scoring_runs;
ALTER TABLE scoring_runs_new RENAME TO scoring_runs;

CREATE TABLE scored_candidates_new (
    network            TEXT NOT NULL REFERENCES networks (code),
    owner              INTEGER NOT NULL DEFAULT 0,
    position           INTEGER NOT NULL,
    candidate_id       TEXT NOT NULL,
    lon                REAL NOT NULL,
    lat                REAL NOT NULL,
    site_type          TEXT NOT NULL,
    format             TEXT,
    recommended_format TEXT,
    expected_sales     REAL NOT NULL,
    cannibalised       REAL NOT NULL,
    net_gain           REAL NOT NULL,
    competitor_loss    REAL NOT NULL,
    catchment_demand   REAL NOT NULL,
    in_territory       INTEGER,
    allowed            INTEGER NOT NULL,
    by_site_type       TEXT,
    blocking_grants    TEXT,
    PRIMARY KEY (network, owner, position)
);
INSERT INTO scored_candidates_new
    SELECT network, 0, position, candidate_id, lon, lat, site_type, format, recommended_format, expected_sales,
           cannibalised, net_gain, competitor_loss, catchment_demand, in_territory, allowed, by_site_type, blocking_grants
    FROM scored_candidates;
DROP TABLE scored_candidates;
ALTER TABLE scored_candidates_new RENAME TO scored_candidates;
