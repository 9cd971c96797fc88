-- callsheet's PostgreSQL schema: the same tables as the SQLite one, shaped for a
-- server shared by several callsheet processes.
--
-- Every key of the tenant tables leads with account_id, so the data can be
-- distributed by account (a Citus-style distribution column) without changing the
-- schema: each unique index and each primary key below starts with it. accounts
-- and api_keys are read before the account is known (authentication looks a key up
-- by its sid), so they are small reference tables.
--
-- Identifiers, words and phones compare in byte order (COLLATE "C"), as in SQLite,
-- whatever the database's own collation is. Integers are BIGINT throughout.

CREATE TABLE accounts (
    id      TEXT COLLATE "C" PRIMARY KEY,
    name    TEXT NOT NULL,
    region  TEXT NOT NULL,
    created BIGINT NOT NULL
);

CREATE TABLE api_keys (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    sid        TEXT COLLATE "C" NOT NULL,
    secret     TEXT NOT NULL,
    created    BIGINT NOT NULL,
    revoked    BIGINT,
    PRIMARY KEY (sid)
);
CREATE INDEX api_keys_account ON api_keys(account_id, sid);

CREATE TABLE portals (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT false,
    created    BIGINT NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX portals_one_default ON portals(account_id) WHERE is_default;

CREATE TABLE campaigns (
    account_id            TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    id                    TEXT COLLATE "C" NOT NULL,
    -- Creation order, for lists.
    seq                   BIGINT GENERATED ALWAYS AS IDENTITY,
    portal_id             TEXT COLLATE "C" NOT NULL,
    name                  TEXT NOT NULL,
    name_lower            TEXT NOT NULL,
    name_folded           TEXT NOT NULL,
    desc1                 TEXT NOT NULL DEFAULT '',
    start_time            BIGINT NOT NULL DEFAULT 0,
    end_time              BIGINT NOT NULL DEFAULT 0,
    max_call_retry        BIGINT NOT NULL,
    time_between_two_call BIGINT NOT NULL,
    number                TEXT NOT NULL DEFAULT '',
    -- Kept by every write to customers, so list counts need no scan.
    customer_count        BIGINT NOT NULL DEFAULT 0,
    -- Bumped whenever customers join or leave, so cached page marks know they are stale.
    list_version          BIGINT NOT NULL DEFAULT 0,
    created               BIGINT NOT NULL,
    updated               BIGINT NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, portal_id) REFERENCES portals(account_id, id)
);
CREATE INDEX campaigns_list ON campaigns(account_id, seq);

-- `seq` orders lists and carries the contact's phones and words: new contacts
-- append to those keys, where their random text ids would land all over them.
CREATE TABLE contacts (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    id         TEXT COLLATE "C" NOT NULL,
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    portal_id  TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    -- The name's search key (domain::customer::name_key), so adding from a filter
    -- copies it inside the database.
    name_key   TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    fields     JSONB NOT NULL DEFAULT '{}',
    created    BIGINT NOT NULL,
    updated    BIGINT NOT NULL,
    PRIMARY KEY (account_id, id),
    UNIQUE (account_id, seq),
    FOREIGN KEY (account_id, portal_id) REFERENCES portals(account_id, id)
);
CREATE INDEX contacts_portal ON contacts(account_id, portal_id, seq);

CREATE TABLE contact_phones (
    account_id    TEXT COLLATE "C" NOT NULL,
    contact_rowid BIGINT NOT NULL,
    pos           BIGINT NOT NULL,
    phone         TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, contact_rowid, pos)
);
CREATE INDEX contact_phones_phone ON contact_phones(account_id, phone, contact_rowid);

-- Accent-smart search (CONTRACT §7): each contact's name words in two forms, lower
-- case (form 0) and folded without diacritics (form 1), with their position for
-- phrases. A term is a range scan of the (form, word) index, a prefix included; a
-- one-word search counts and pages from this index alone.
CREATE TABLE contact_words (
    account_id    TEXT COLLATE "C" NOT NULL,
    portal_id     TEXT COLLATE "C" NOT NULL,
    contact_rowid BIGINT NOT NULL,
    form          BIGINT NOT NULL,
    pos           BIGINT NOT NULL,
    word          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, contact_rowid, form, pos)
);
CREATE INDEX contact_words_word ON contact_words(account_id, portal_id, form, word, contact_rowid);

-- Customers: the rows of a campaign's call list. Integer ids as the reference API,
-- drawn from a sequence, so an id is never given twice, even across servers and
-- after deletes. Phones are kept in the row (comma-separated E.164), as in SQLite.
CREATE SEQUENCE customer_ids AS BIGINT;
CREATE TABLE customers (
    account_id                TEXT COLLATE "C" NOT NULL,
    id                        BIGINT NOT NULL,
    campaign_id               TEXT COLLATE "C" NOT NULL,
    crm_id                    TEXT COLLATE "C" NOT NULL,
    name                      TEXT NOT NULL DEFAULT '',
    name_key                  TEXT NOT NULL DEFAULT '',
    phones                    TEXT NOT NULL,
    status                    BIGINT NOT NULL DEFAULT 0,
    type                      BIGINT NOT NULL,
    insert_time               BIGINT NOT NULL,
    callback_time             BIGINT NOT NULL DEFAULT 0,
    last_time_make_call       BIGINT NOT NULL DEFAULT 0,
    number_call_out           BIGINT NOT NULL DEFAULT 0,
    do_not_call               BIGINT NOT NULL DEFAULT 0,
    stringee_user_id_callback TEXT,
    PRIMARY KEY (account_id, id)
);
-- A CRM contact is in a campaign at most once.
CREATE UNIQUE INDEX customers_one_per_contact ON customers(account_id, campaign_id, crm_id);
CREATE INDEX customers_campaign ON customers(account_id, campaign_id, id);

CREATE TABLE filters (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    id         TEXT COLLATE "C" NOT NULL,
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    portal_id  TEXT COLLATE "C" NOT NULL,
    created    BIGINT NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, portal_id) REFERENCES portals(account_id, id)
);
CREATE INDEX filters_list ON filters(account_id, seq);
