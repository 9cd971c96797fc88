-- Accent-smart search (CONTRACT §7): each contact's name words in two forms, lower
-- case (form 0) and folded without diacritics (form 1), with their position for
-- phrases. A term is looked up by (form, word) through the index, never by scanning.
CREATE TABLE contact_words (
    account_id    TEXT NOT NULL,
    -- The contact's portal, so a one-word search counts its matches from this index alone.
    portal_id     TEXT NOT NULL,
    contact_rowid INTEGER NOT NULL,
    form          INTEGER NOT NULL,
    pos           INTEGER NOT NULL,
    word          TEXT NOT NULL,
    PRIMARY KEY (contact_rowid, form, pos)
) WITHOUT ROWID;
CREATE INDEX contact_words_word ON contact_words(account_id, portal_id, form, word, contact_rowid);

-- Saved filters.
CREATE TABLE filters (
    seq        INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    portal_id  TEXT NOT NULL,
    created    INTEGER NOT NULL,
    UNIQUE (account_id, id),
    FOREIGN KEY (account_id, portal_id) REFERENCES portals(account_id, id)
);
CREATE UNIQUE INDEX filters_id ON filters(id);
