-- Contacts are always looked up by account and id, through the (account_id, id)
-- key; a second index on the id alone cost every new contact one more random write.
DROP INDEX contacts_id;
