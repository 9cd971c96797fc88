-- The words of each contact's custom fields, as the filter language searches them
-- (domain::contact::field_words): JSON, {key: {"k": " lower | folded ", "w": [folded]}}.
-- Written with the fields. NULL marks a contact from before this migration whose
-- words the store computes when it opens (the partial index finds them).
ALTER TABLE contacts ADD COLUMN field_words TEXT DEFAULT '{}';
UPDATE contacts SET field_words = NULL WHERE fields NOT IN ('{}', '');
CREATE INDEX contacts_field_words_pending ON contacts(seq) WHERE field_words IS NULL;
