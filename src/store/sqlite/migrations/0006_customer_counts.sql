-- How many customers each campaign has in each status and queue state (`due`), so
-- that a campaign's stats never count its rows. Rows are deltas: a change of a
-- customer's status or queue state adds -1 for what it was and +1 for what it is;
-- the background sweep folds a campaign's deltas into one row per (status, due).
-- The counts cover the customers readers may see: changes to a campaign's hidden
-- rows (an import in progress, a campaign being deleted) are left out, and an add
-- counts its customers when it publishes them.
CREATE TABLE customer_counts (
    seq         INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    status      INTEGER NOT NULL,
    due         INTEGER,
    n           INTEGER NOT NULL
);
CREATE INDEX customer_counts_campaign ON customer_counts(account_id, campaign_id);

CREATE TRIGGER customers_counted_update AFTER UPDATE OF status, due ON customers
WHEN (old.status IS NOT new.status OR old.due IS NOT new.due)
 AND (SELECT k.hidden = 0 AND (k.staged_from IS NULL OR old.id < k.staged_from) FROM campaigns k
      WHERE k.id = old.campaign_id AND k.account_id = old.account_id)
BEGIN
    INSERT INTO customer_counts (account_id, campaign_id, status, due, n)
    VALUES (old.account_id, old.campaign_id, old.status, old.due, -1),
           (new.account_id, new.campaign_id, new.status, new.due, 1);
END;

CREATE TRIGGER customers_counted_delete AFTER DELETE ON customers
WHEN (SELECT k.hidden = 0 AND (k.staged_from IS NULL OR old.id < k.staged_from) FROM campaigns k
      WHERE k.id = old.campaign_id AND k.account_id = old.account_id)
BEGIN
    INSERT INTO customer_counts (account_id, campaign_id, status, due, n)
    VALUES (old.account_id, old.campaign_id, old.status, old.due, -1);
END;

-- The customers already there.
INSERT INTO customer_counts (account_id, campaign_id, status, due, n)
SELECT c.account_id, c.campaign_id, c.status, c.due, count(*) FROM customers c
JOIN campaigns k ON k.account_id = c.account_id AND k.id = c.campaign_id
WHERE k.hidden = 0 AND (k.staged_from IS NULL OR c.id < k.staged_from)
GROUP BY c.account_id, c.campaign_id, c.status, c.due;
