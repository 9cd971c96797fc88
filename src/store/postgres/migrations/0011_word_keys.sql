-- The name-word index in one B-tree: an entry is the account, the word's key
-- (portal, form and word in one column, as domain::customer::word_key makes it),
-- the contact and the word's position. contact_words kept a heap row and two
-- indexes per word (one by contact, one by word) with the account and portal ids
-- in each: this keeps a heap row and one narrower index entry. The account leads,
-- as in every table, so the data can be split by account. A contact's entries are
-- found again from its name when it changes or goes. A word's lower-case entry
-- is left out where it is all ASCII: only a query word with diacritics reads that
-- form, and its lower case never is (domain::customer::name_word_keys).
CREATE TABLE name_words (
    account_id    TEXT COLLATE "C" NOT NULL,
    key           TEXT COLLATE "C" NOT NULL,
    contact_rowid BIGINT NOT NULL,
    pos           INTEGER NOT NULL,
    PRIMARY KEY (account_id, key, contact_rowid, pos)
);
INSERT INTO name_words (account_id, key, contact_rowid, pos)
    SELECT account_id, portal_id || ' ' || form::text || word, contact_rowid, pos FROM contact_words
    WHERE NOT (form = 0 AND octet_length(word) = char_length(word))
    ORDER BY 1, 2, 3, 4 ON CONFLICT DO NOTHING;
DROP TABLE contact_words;
