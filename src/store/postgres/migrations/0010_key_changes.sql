-- Whenever an API key changes (revoked or deleted, by the CLI in another process or
-- by hand), every server listening on `callsheet_keys` hears of it at commit and
-- forgets the keys it remembers, so a revoked key stops working at once.
CREATE FUNCTION api_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callsheet_keys', '');
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION api_keys_changed();
