-- The name-word index in one B-tree: an entry is the word's key (portal, form and
-- word in one column, as domain::customer::word_key makes it), the contact and the
-- word's position, and nothing else. contact_words kept each word twice (a table
-- keyed by contact and an index keyed by word), with the account and portal ids in
-- every entry: four wide entries per word where this keeps one or two narrow ones.
-- A contact's entries are found again from its name when it changes or goes.
CREATE TABLE name_words (
    key           TEXT NOT NULL,
    contact_rowid INTEGER NOT NULL,
    pos           INTEGER NOT NULL,
    PRIMARY KEY (key, contact_rowid, pos)
) WITHOUT ROWID;
DROP TABLE contact_words;
-- How the index was built: the Unicode tables of the build that read the names
-- (domain::customer::word_index_version). At start a server rebuilds the index from
-- the contacts when they differ from its own; '' (here) has it built the first time.
CREATE TABLE word_index_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL
);
INSERT INTO word_index_version (id, version) VALUES (1, '');
