-- A name word's index entry keeps its first 500 characters (domain::customer::
-- indexed_word), on both backends alike: a B-tree entry past about 2.7 kB is
-- refused, and a spreadsheet cell holds a word of up to 32,767 characters (a long
-- word that compressed well was stored whole). Longer words stored before are cut
-- the same way, so lookups find them.
UPDATE contact_words SET word = left(word, 500) WHERE length(word) > 500;
