-- The customers a USERONLY callback holds for an agent, by the agent's name: what
-- findcustomermanager lists and an agent's rename moves, found without walking a
-- campaign's customers. Only customers with an owner are in it (a handful beside a
-- list of millions).
CREATE INDEX customers_callback_owner ON customers (account_id, stringee_user_id_callback, campaign_id)
    WHERE stringee_user_id_callback IS NOT NULL;
-- A callback that was called back is used: a customer in a status other than call
-- back (6), processing (5, its callback claimed) or stopped (4, kept to resume) has
-- no callback time or owner (the rule results follow since this migration).
UPDATE customers SET callback_time = 0, stringee_user_id_callback = NULL
    WHERE status NOT IN (4, 5, 6) AND (callback_time <> 0 OR stringee_user_id_callback IS NOT NULL);
