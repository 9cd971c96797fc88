-- A contact import keeps a row's id that is no contact's as the custom field
-- external_id of the contact it makes; importing the same rows again finds that
-- contact by it, within its portal, instead of making another.
CREATE INDEX contacts_external_id ON contacts (account_id, portal_id, json_extract(fields, '$.external_id'))
    WHERE json_extract(fields, '$.external_id') IS NOT NULL;
