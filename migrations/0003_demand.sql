-- Demand grids, one per network: H3 cells with expected annual purchases (units/year).
-- The cells are stored in chunks of packed little-endian arrays (u64 H3 index, f64
-- demand) so that a national res-8 grid (~13 M cells) loads in about a second; the grid
-- is replaced whole, in one transaction. `version` rises with every replacement so
-- instances sharing the file notice a new grid.
CREATE TABLE demand_grids (
    network    TEXT PRIMARY KEY NOT NULL REFERENCES networks (code),
    resolution INTEGER NOT NULL CHECK (resolution BETWEEN 0 AND 15),
    cell_count INTEGER NOT NULL,
    total      REAL NOT NULL,
    source     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE demand_chunks (
    network TEXT NOT NULL REFERENCES demand_grids (network),
    chunk   INTEGER NOT NULL,
    cells   BLOB NOT NULL,   -- n × u64 little-endian H3 indexes
    demand  BLOB NOT NULL,   -- n × f64 little-endian units/year
    PRIMARY KEY (network, chunk)
) WITHOUT ROWID;
