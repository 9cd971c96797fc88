-- Long writes (imports, campaign deletes) go in short transactions, hidden from
-- readers until one short step publishes them, so other writers are never locked
-- out for long and a crash leaves nothing half-written.

-- A campaign's customers with an id of `staged_from` or more belong to an import
-- still in progress; a hidden campaign is being created by one, or being deleted.
ALTER TABLE campaigns ADD COLUMN staged_from INTEGER;
ALTER TABLE campaigns ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;

-- Contact rowids `lo` to `hi` are reserved by an import in progress for the CRM
-- contacts it makes; readers leave them out. The row at `hi` keeps new contacts
-- of other writers past the range until the import is published or discarded.
CREATE TABLE staged_blocks (
    id         INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    lo         INTEGER NOT NULL,
    hi         INTEGER NOT NULL,
    created    INTEGER NOT NULL
);
