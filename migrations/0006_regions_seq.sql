-- regions_seq rises by one with every import of regions, so that every process sharing
-- the file (a second instance, the service while the CLI imports) notices and reloads
-- its regions before it decides on them (see registry.rs, `sync`).
INSERT INTO state (key, value) VALUES ('regions_seq', 0);
