-- The calling workflow (CONTRACT §9–§10): campaign settings and lifecycle, agents
-- and groups, claims with leases, results, do-not-call lists, callable hours and
-- history.

-- Minutes, as the vendor's help defines it: the column held seconds before.
UPDATE campaigns SET time_between_two_call = (time_between_two_call + 59) / 60;
ALTER TABLE campaigns ADD COLUMN status INTEGER NOT NULL DEFAULT 0;
-- The callable-hours set, kept apart from the other settings so a set's users can be found.
ALTER TABLE campaigns ADD COLUMN businesshour INTEGER;
-- Every other calling setting (domain::campaign::Calling), as JSON.
ALTER TABLE campaigns ADD COLUMN calling TEXT NOT NULL DEFAULT '{}';

-- Where each customer stands in the hand-out queue:
--   due NULL: never handed out again (status 2, 4, 7, or 8 for good);
--   due 0: waiting until wake_at (a retry's delay, a do-not-call-back period, or
--          parked while every phone is blocked for now, `parked` saying why);
--   due 1: queued now (wake_at 0), handed out by id;
--   due 2: a callback, due at wake_at (its callback_time);
--   due 3: claimed, the lease ending at wake_at.
ALTER TABLE customers ADD COLUMN due INTEGER DEFAULT 1;
ALTER TABLE customers ADD COLUMN wake_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN parked TEXT;
-- 1: do_not_call_back (lasts the campaign's time_do_not_call days); 2: for good.
ALTER TABLE customers ADD COLUMN dnc_kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN stopped_from INTEGER;
ALTER TABLE customers ADD COLUMN claim_id TEXT;
-- Calls per outcome ({"busy": 2}) and per phone ({"849...": [calls, wrong]}).
ALTER TABLE customers ADD COLUMN outcomes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN phone_stats TEXT NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN added_by TEXT NOT NULL DEFAULT '';
UPDATE customers SET
    due = CASE status WHEN 0 THEN 1 WHEN 1 THEN 1 WHEN 3 THEN 1 WHEN 6 THEN 2 ELSE NULL END,
    wake_at = CASE status WHEN 6 THEN callback_time ELSE 0 END;
CREATE INDEX customers_queue ON customers(account_id, campaign_id, due, wake_at, id);
-- The sweep's look for clocks that have rung, across campaigns.
CREATE INDEX customers_waiting ON customers(wake_at) WHERE due = 0;

CREATE TABLE agents (
    seq              INTEGER PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    id               TEXT NOT NULL,
    name             TEXT NOT NULL,
    stringee_user_id TEXT NOT NULL,
    manual_status    TEXT NOT NULL,
    routing_type     INTEGER NOT NULL,
    phone_number     TEXT NOT NULL DEFAULT '',
    -- The campaign the agent says it works now (setperform).
    performing       TEXT,
    created          INTEGER NOT NULL,
    UNIQUE (account_id, id),
    UNIQUE (account_id, stringee_user_id)
);
CREATE UNIQUE INDEX agents_id ON agents(id);

CREATE TABLE agent_groups (
    seq        INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    UNIQUE (account_id, id)
);
CREATE UNIQUE INDEX agent_groups_id ON agent_groups(id);

CREATE TABLE group_members (
    account_id TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    agent_id   TEXT NOT NULL,
    created    INTEGER NOT NULL,
    PRIMARY KEY (account_id, group_id, agent_id)
) WITHOUT ROWID;
CREATE INDEX group_members_agent ON group_members(account_id, agent_id, group_id);

-- Assignments: an agent (type 1) or a group, whose members are read at hand-out (type 2).
CREATE TABLE campaign_agents (
    id          INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    agent_id    TEXT,
    group_id    TEXT,
    type        INTEGER NOT NULL,
    created     INTEGER NOT NULL
);
CREATE UNIQUE INDEX campaign_agents_agent ON campaign_agents(account_id, campaign_id, agent_id) WHERE type = 1;
CREATE UNIQUE INDEX campaign_agents_group ON campaign_agents(account_id, campaign_id, group_id) WHERE type = 2;

CREATE TABLE agent_quotas (
    account_id     TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    agent_id       TEXT NOT NULL,
    quota_type     INTEGER NOT NULL,
    quota_call_out INTEGER NOT NULL,
    PRIMARY KEY (account_id, campaign_id, agent_id)
) WITHOUT ROWID;

-- A hand-out: live (state 0) until a result (1), a release (2) or its lease's end (3).
CREATE TABLE claims (
    seq              INTEGER PRIMARY KEY,
    account_id       TEXT NOT NULL,
    id               TEXT NOT NULL,
    campaign_id      TEXT NOT NULL,
    customer_id      INTEGER NOT NULL,
    agent_id         TEXT NOT NULL,
    stringee_user_id TEXT NOT NULL,
    phone            TEXT NOT NULL,
    created          INTEGER NOT NULL,
    lease_expires_at INTEGER NOT NULL,
    state            INTEGER NOT NULL DEFAULT 0,
    -- The customer's status before the hand-out, given back on release or expiry.
    from_status      INTEGER NOT NULL,
    -- The first accepted result's answer, replayed to the same claim_id.
    answer           TEXT,
    accepted_at      INTEGER,
    UNIQUE (account_id, id)
);
CREATE INDEX claims_live ON claims(state, lease_expires_at);
CREATE INDEX claims_agent ON claims(account_id, campaign_id, agent_id, created);

-- The phones live claims hold: no phone of an account is handed out twice at once.
CREATE TABLE phone_holds (
    account_id TEXT NOT NULL,
    phone      TEXT NOT NULL,
    claim_id   TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, phone)
) WITHOUT ROWID;

-- Every call, for the 24-hour caps.
CREATE TABLE phone_calls (
    seq         INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL,
    phone       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    campaign_id TEXT NOT NULL,
    advertising INTEGER NOT NULL
);
CREATE INDEX phone_calls_phone ON phone_calls(account_id, phone, at);

-- Do-not-call entries: the account's (campaign_id '') or one campaign's.
CREATE TABLE dnc (
    account_id  TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    phone       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    expires_at  INTEGER,
    created     INTEGER NOT NULL,
    PRIMARY KEY (account_id, campaign_id, phone)
) WITHOUT ROWID;
CREATE INDEX dnc_phone ON dnc(account_id, phone, campaign_id);

CREATE TABLE business_hours (
    id         INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    timezone   TEXT NOT NULL,
    windows    TEXT NOT NULL,
    holidays   TEXT NOT NULL,
    preset     INTEGER NOT NULL DEFAULT 0,
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL
);
CREATE INDEX business_hours_account ON business_hours(account_id, id);

-- What happened to each customer, append-only; kept when the customer is deleted.
CREATE TABLE history (
    seq         INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    campaign_id TEXT NOT NULL,
    at          INTEGER NOT NULL,
    event       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    phone       TEXT,
    outcome     TEXT,
    from_status INTEGER,
    to_status   INTEGER,
    claim_id    TEXT,
    detail      TEXT
);
CREATE INDEX history_customer ON history(account_id, customer_id, seq);

-- The presets every account has.
INSERT INTO business_hours (account_id, name, timezone, windows, holidays, preset, created, updated)
SELECT id, 'Vietnam advertising', 'Asia/Ho_Chi_Minh',
       '[{"days":[1,2,3,4,5,6,7],"start":"08:00","end":"17:00"}]', '[]', 1, created, created FROM accounts;
INSERT INTO business_hours (account_id, name, timezone, windows, holidays, preset, created, updated)
SELECT id, 'US TCPA', 'America/New_York',
       '[{"days":[1,2,3,4,5,6,7],"start":"08:00","end":"21:00"}]', '[]', 1, created, created FROM accounts;
