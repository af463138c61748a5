-- Recurring campaigns: each run of a series keeps the fire time it belongs to and
-- the schedule it was delivered with, so editing the series never changes a run.

ALTER TABLE campaign_runs
    ADD COLUMN fire_at timestamptz,
    ADD COLUMN schedule jsonb;

CREATE UNIQUE INDEX campaign_runs_fire_key ON campaign_runs (campaign_id, fire_at) WHERE fire_at IS NOT NULL;

-- Set once the Temporal client has confirmed the series workflow start, so that an
-- activation whose start was lost can be found and started again.
ALTER TABLE campaigns ADD COLUMN series_started_at timestamptz;
