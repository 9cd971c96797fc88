-- Campaign, portal and saved-filter ids name one thing of the whole database
-- (CONTRACT §5: unique per kind), as they do on SQLite, not one per account.
CREATE UNIQUE INDEX campaigns_id ON campaigns(id);
CREATE UNIQUE INDEX portals_id ON portals(id);
CREATE UNIQUE INDEX filters_id ON filters(id);
