-- Counts the writes that put customers back in a campaign's queue (a release, a
-- retry due at once, an expiry, a wake, a resume). A server remembers where a
-- campaign's queue started at its last hand-out; a hand-out reads this count first,
-- and a count that moved since (another server queued someone, maybe below that
-- mark) makes it scan the queue from its start, so the order by id holds across
-- servers. It is bumped after the queuing write commits.
CREATE SEQUENCE requeues;
