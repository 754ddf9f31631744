-- The audit log also keeps the outlet closes that broke the standard ("force": true), with
-- what they broke (issue 21: consequences before acting). SQLite cannot change a CHECK
-- constraint, so the table is rebuilt with the same rows, ids and index.
CREATE TABLE audit_new (
    id        INTEGER PRIMARY KEY,
    network   TEXT NOT NULL,
    at        TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('grant', 'revoke', 'close')),
    result    TEXT NOT NULL CHECK (result IN ('granted', 'refused', 'revoked', 'closed')),
    grant_id  INTEGER REFERENCES grants (id),
    request   TEXT NOT NULL,  -- the request body as JSON (with what it broke, if anything)
    conflicts TEXT NOT NULL,  -- JSON array of conflict entries (empty unless refused)
    actor     TEXT
);
INSERT INTO audit_new (id, network, at, action, result, grant_id, request, conflicts, actor)
    SELECT id, network, at, action, result, grant_id, request, conflicts, actor FROM audit;
DROP TABLE audit;
ALTER TABLE audit_new RENAME TO audit;
CREATE INDEX audit_network ON audit (network, id);
