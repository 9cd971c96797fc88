-- A number that moves whenever an API key changes (revoked or deleted, by the CLI
-- in another process or by hand). A server reads it before it trusts a key it
-- remembers, so a revoked key stops working at once.
CREATE TABLE key_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO key_changes (id, n) VALUES (1, 0);
CREATE TRIGGER api_keys_changed_update AFTER UPDATE ON api_keys
BEGIN
    UPDATE key_changes SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER api_keys_changed_delete AFTER DELETE ON api_keys
BEGIN
    UPDATE key_changes SET n = n + 1 WHERE id = 1;
END;
