-- The name-word index in one B-tree: an entry is the account, the word's key
-- (portal, form and word in one column, as domain::customer::word_key makes it),
-- the contact and the word's position. contact_words kept a heap row and two
-- indexes per word (one by contact, one by word) with the account and portal ids
-- in each: this keeps a heap row and one narrower index entry. The account leads,
-- as in every table, so the data can be split by account. A contact's entries are
-- found again from its name when it changes or goes.
CREATE TABLE name_words (
    account_id    TEXT COLLATE "C" NOT NULL,
    key           TEXT COLLATE "C" NOT NULL,
    contact_rowid BIGINT NOT NULL,
    pos           INTEGER NOT NULL,
    PRIMARY KEY (account_id, key, contact_rowid, pos)
);
DROP TABLE contact_words;
-- How the index was built: the Unicode tables of the build that read the names
-- (domain::customer::word_index_version). At start a server rebuilds the index from
-- the contacts when they differ from its own; '' (here) has it built the first time.
CREATE TABLE word_index_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL
);
INSERT INTO word_index_version (id, version) VALUES (1, '');
