-- A deleted assignment's or callable-hours set's id was given to the next one made
-- (a rowid table hands out one past the largest id left), so a DELETE sent again
-- removed another. AUTOINCREMENT never gives an id twice, as PostgreSQL's sequences.
CREATE TABLE campaign_agents_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    agent_id    TEXT,
    group_id    TEXT,
    type        INTEGER NOT NULL,
    created     INTEGER NOT NULL
);
INSERT INTO campaign_agents_new (id, account_id, campaign_id, agent_id, group_id, type, created)
    SELECT id, account_id, campaign_id, agent_id, group_id, type, created FROM campaign_agents;
DROP TABLE campaign_agents;
ALTER TABLE campaign_agents_new RENAME TO campaign_agents;
CREATE UNIQUE INDEX campaign_agents_agent ON campaign_agents(account_id, campaign_id, agent_id) WHERE type = 1;
CREATE UNIQUE INDEX campaign_agents_group ON campaign_agents(account_id, campaign_id, group_id) WHERE type = 2;

CREATE TABLE business_hours_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    timezone   TEXT NOT NULL,
    windows    TEXT NOT NULL,
    holidays   TEXT NOT NULL,
    preset     INTEGER NOT NULL DEFAULT 0,
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL
);
INSERT INTO business_hours_new (id, account_id, name, timezone, windows, holidays, preset, created, updated)
    SELECT id, account_id, name, timezone, windows, holidays, preset, created, updated FROM business_hours;
DROP TABLE business_hours;
ALTER TABLE business_hours_new RENAME TO business_hours;
CREATE INDEX business_hours_account ON business_hours(account_id, id);
