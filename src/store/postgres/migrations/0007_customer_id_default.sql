-- A customer's id is drawn by the row itself as it is written: an add streams its
-- customers into one COPY that leaves the id out, and the ids still follow the rows'
-- order (COPY computes defaults row by row). Nothing else changes: every id still
-- comes from customer_ids, so an id is never given twice.
ALTER TABLE customers ALTER COLUMN id SET DEFAULT nextval('customer_ids');
