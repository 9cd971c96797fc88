-- The name-word index in one B-tree: an entry is the word's key (portal, form and
-- word in one column, as domain::customer::word_key makes it), the contact and the
-- word's position, and nothing else. contact_words kept each word twice (a table
-- keyed by contact and an index keyed by word), with the account and portal ids in
-- every entry: four wide entries per word where this keeps two narrow ones. A
-- contact's entries are found again from its name when it changes or goes. A
-- word's lower-case entry is left out where it is all ASCII: only a query word with
-- diacritics reads that form, and its lower case never is
-- (domain::customer::name_word_keys).
CREATE TABLE name_words (
    key           TEXT NOT NULL,
    contact_rowid INTEGER NOT NULL,
    pos           INTEGER NOT NULL,
    PRIMARY KEY (key, contact_rowid, pos)
) WITHOUT ROWID;
INSERT OR IGNORE INTO name_words (key, contact_rowid, pos)
    SELECT portal_id || ' ' || form || word, contact_rowid, pos FROM contact_words
    WHERE NOT (form = 0 AND length(CAST(word AS BLOB)) = length(word))
    ORDER BY 1, 2, 3;
DROP TABLE contact_words;
