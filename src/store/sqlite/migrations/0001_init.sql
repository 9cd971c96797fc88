-- callsheet's first schema. Every key leads with the account, so the data can be
-- split by tenant; ids are also unique per kind on their own.

CREATE TABLE accounts (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    region  TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE portals (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created    INTEGER NOT NULL,
    PRIMARY KEY (account_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX portals_id ON portals(id);
CREATE UNIQUE INDEX portals_one_default ON portals(account_id) WHERE is_default = 1;

CREATE TABLE api_keys (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    sid        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created    INTEGER NOT NULL,
    revoked    INTEGER,
    PRIMARY KEY (account_id, sid)
) WITHOUT ROWID;
CREATE UNIQUE INDEX api_keys_sid ON api_keys(sid);

-- `seq` is an explicit rowid, so VACUUM keeps it: lists go in its (creation) order.
CREATE TABLE campaigns (
    seq                   INTEGER PRIMARY KEY,
    account_id            TEXT NOT NULL REFERENCES accounts(id),
    id                    TEXT NOT NULL,
    portal_id             TEXT NOT NULL,
    name                  TEXT NOT NULL,
    name_lower            TEXT NOT NULL,
    name_folded           TEXT NOT NULL,
    desc1                 TEXT NOT NULL DEFAULT '',
    start_time            INTEGER NOT NULL DEFAULT 0,
    end_time              INTEGER NOT NULL DEFAULT 0,
    max_call_retry        INTEGER NOT NULL,
    time_between_two_call INTEGER NOT NULL,
    number                TEXT NOT NULL DEFAULT '',
    -- Kept by every write to customers, so list counts need no scan.
    customer_count        INTEGER NOT NULL DEFAULT 0,
    -- Bumped whenever customers join or leave, so cached page marks know they are stale.
    list_version          INTEGER NOT NULL DEFAULT 0,
    created               INTEGER NOT NULL,
    updated               INTEGER NOT NULL,
    UNIQUE (account_id, id),
    FOREIGN KEY (account_id, portal_id) REFERENCES portals(account_id, id)
);
CREATE INDEX campaigns_account ON campaigns(account_id);
CREATE UNIQUE INDEX campaigns_id ON campaigns(id);

-- `seq` is an explicit rowid, so VACUUM keeps it: phones hang off it and lists go
-- in its (creation) order.
CREATE TABLE contacts (
    seq        INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    id         TEXT NOT NULL,
    portal_id  TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    fields     TEXT NOT NULL DEFAULT '{}',
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL,
    UNIQUE (account_id, id),
    FOREIGN KEY (account_id, portal_id) REFERENCES portals(account_id, id)
);
CREATE UNIQUE INDEX contacts_id ON contacts(id);
CREATE INDEX contacts_portal ON contacts(account_id, portal_id);

-- Keyed by the contact's rowid, so new contacts append instead of landing at random
-- places of the index, as their random text ids would.
CREATE TABLE contact_phones (
    account_id    TEXT NOT NULL,
    contact_rowid INTEGER NOT NULL,
    pos           INTEGER NOT NULL,
    phone         TEXT NOT NULL,
    PRIMARY KEY (contact_rowid, pos)
) WITHOUT ROWID;
CREATE INDEX contact_phones_phone ON contact_phones(account_id, phone, contact_rowid);

-- Customers: the rows of a campaign's call list. Integer ids as the reference API,
-- drawn from `counters` so that an id is never given twice, even after deletes.
-- Phones are kept in the row (comma-separated E.164): a million-row import then
-- writes one row and two index entries per customer, and the questions about phones
-- (/duplicate, keepduplicate) are answered by one pass over the campaign's rows.
-- No foreign keys: the store deletes customers with their campaign itself.
CREATE TABLE customers (
    id                        INTEGER PRIMARY KEY,
    account_id                TEXT NOT NULL,
    campaign_id               TEXT NOT NULL,
    crm_id                    TEXT NOT NULL,
    name                      TEXT NOT NULL DEFAULT '',
    -- Lowercase words then folded words, each after a space (domain::customer::name_key).
    name_key                  TEXT NOT NULL DEFAULT '',
    phones                    TEXT NOT NULL,
    status                    INTEGER NOT NULL DEFAULT 0,
    type                      INTEGER NOT NULL,
    insert_time               INTEGER NOT NULL,
    callback_time             INTEGER NOT NULL DEFAULT 0,
    last_time_make_call       INTEGER NOT NULL DEFAULT 0,
    number_call_out           INTEGER NOT NULL DEFAULT 0,
    do_not_call               INTEGER NOT NULL DEFAULT 0,
    stringee_user_id_callback TEXT
);
-- A CRM contact is in a campaign at most once.
CREATE UNIQUE INDEX customers_one_per_contact ON customers(account_id, campaign_id, crm_id);
CREATE INDEX customers_campaign ON customers(account_id, campaign_id, id);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('customer', 0);
