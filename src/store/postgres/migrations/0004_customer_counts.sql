-- How many customers each campaign has in each status and queue state (`due`), so
-- that a campaign's stats never count its rows. Rows are deltas, written by
-- triggers from the rows a statement inserted, changed or deleted; the
-- background sweep folds a campaign's deltas into one row per (status, due).
-- Appending deltas never waits on another transaction's counter row, so hand-outs
-- on several servers do not queue behind each other.
CREATE TABLE customer_counts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL,
    campaign_id TEXT COLLATE "C" NOT NULL,
    status      BIGINT NOT NULL,
    due         BIGINT,
    n           BIGINT NOT NULL
);
CREATE INDEX customer_counts_campaign ON customer_counts(account_id, campaign_id);

CREATE FUNCTION customers_counted_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_counts (account_id, campaign_id, status, due, n)
    SELECT account_id, campaign_id, status, due, count(*) FROM counted_new GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;

-- A change of status or queue state is one row at a time (a hand-out, a result):
-- a row trigger, skipped by PostgreSQL itself when neither changed.
CREATE FUNCTION customers_counted_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_counts (account_id, campaign_id, status, due, n)
    VALUES (OLD.account_id, OLD.campaign_id, OLD.status, OLD.due, -1),
           (NEW.account_id, NEW.campaign_id, NEW.status, NEW.due, 1);
    RETURN NULL;
END $$;

CREATE FUNCTION customers_counted_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_counts (account_id, campaign_id, status, due, n)
    SELECT account_id, campaign_id, status, due, -count(*) FROM counted_old GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;

CREATE TRIGGER customers_counted_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS counted_new FOR EACH STATEMENT EXECUTE FUNCTION customers_counted_insert();
CREATE TRIGGER customers_counted_update AFTER UPDATE OF status, due ON customers FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.due IS DISTINCT FROM NEW.due)
    EXECUTE FUNCTION customers_counted_update();
CREATE TRIGGER customers_counted_delete AFTER DELETE ON customers
    REFERENCING OLD TABLE AS counted_old FOR EACH STATEMENT EXECUTE FUNCTION customers_counted_delete();

-- The customers already there.
INSERT INTO customer_counts (account_id, campaign_id, status, due, n)
SELECT account_id, campaign_id, status, due, count(*) FROM customers GROUP BY 1, 2, 3, 4;
