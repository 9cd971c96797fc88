-- Long work run in the background (an upload sent with async=1, or a large one):
-- its state, progress and final answer, kept so any server can report on it and a
-- job cut short by a restart is marked failed rather than left running.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    campaign_id TEXT,
    state TEXT NOT NULL,
    rows_read INTEGER NOT NULL DEFAULT 0,
    rows_estimate INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    heartbeat INTEGER NOT NULL,
    finished INTEGER,
    result TEXT,
    error TEXT
);
CREATE INDEX jobs_running ON jobs(state) WHERE state = 'running';
