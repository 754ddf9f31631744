-- Bearer tokens. Only a SHA-256 hash of each token is kept; the token is shown once when
-- created. A token has a role (viewer < planner < admin) and optionally a scope: one
-- network, or one partner (and so that partner's network).
CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'planner', 'admin')),
    network    TEXT REFERENCES networks (code),
    partner_id INTEGER REFERENCES partners (id),
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    CHECK (partner_id IS NULL OR network IS NOT NULL)
);

-- Which token made each decision (`open` when the service runs without tokens).
ALTER TABLE audit ADD COLUMN actor TEXT;
