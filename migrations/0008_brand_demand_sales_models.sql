-- Issue 19: scores a planner can act on.

-- The brand's share of the market a grid was built with (synthesis or registrations);
-- NULL for a grid uploaded as it is.
ALTER TABLE demand_grids ADD COLUMN market_share REAL;

-- Observed sales of the network's own outlets, per year, and (where known) per buyer's
-- district (`district` is '' when the sales are outlet totals). An upload replaces the
-- rows of every year it names, whole.
CREATE TABLE sales (
    network   TEXT NOT NULL REFERENCES networks (code),
    outlet_id INTEGER NOT NULL REFERENCES outlets (id),
    year      INTEGER NOT NULL CHECK (year BETWEEN 1900 AND 2200),
    district  TEXT NOT NULL DEFAULT '',
    units     REAL NOT NULL CHECK (units >= 0),
    source    TEXT NOT NULL,   -- `upload`, `import of FILE`, `synthetic` (the sample history)
    PRIMARY KEY (network, outlet_id, year, district)
) WITHOUT ROWID;

-- A caller's own key for an outlet (a dealer code), unique in its network: sales and
-- re-imports may name an outlet by it.
ALTER TABLE outlets ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX outlets_external_id ON outlets (network, external_id) WHERE external_id IS NOT NULL;

-- Fitted versions of a network's scoring model. Version 0 is the policy's own and has no
-- row; `model_current` names the version in force (none: the policy's).
CREATE TABLE models (
    network    TEXT NOT NULL REFERENCES networks (code),
    version    INTEGER NOT NULL CHECK (version > 0),
    parameters TEXT NOT NULL,  -- JSON: the policy's `scoring` section with the fitted values
    report     TEXT NOT NULL,  -- JSON: year, intervals, fit, unidentified
    created_at TEXT NOT NULL,
    PRIMARY KEY (network, version)
);

CREATE TABLE model_current (
    network TEXT PRIMARY KEY NOT NULL REFERENCES networks (code),
    version INTEGER NOT NULL   -- 0: the policy's parameters
);
