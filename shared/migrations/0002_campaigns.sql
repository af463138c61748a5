-- Campaigns, their runs and one delivery row per recipient and run.

CREATE TABLE campaigns (
    id               uuid PRIMARY KEY,
    team_id          uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('one_time', 'recurring')),
    name             text NOT NULL,
    description      text NOT NULL DEFAULT '',
    channel          text NOT NULL,
    subject_template text NOT NULL DEFAULT '',
    body_template    text NOT NULL,
    schedule         jsonb NOT NULL,
    target_user_ids  uuid[] NOT NULL DEFAULT '{}',
    target_group_ids uuid[] NOT NULL DEFAULT '{}',
    status           text NOT NULL,
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    archived_at      timestamptz
);
-- The list call filters by team (and status) and pages newest first by (created_at, id).
CREATE INDEX campaigns_team_created_idx ON campaigns (team_id, created_at DESC, id DESC);
CREATE INDEX campaigns_team_status_idx ON campaigns (team_id, status, created_at DESC, id DESC);

-- One row per run (a one-time send, each run-again attempt, each fire of a series).
CREATE TABLE campaign_runs (
    id                  uuid PRIMARY KEY,
    campaign_id         uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    team_id             uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    run_number          integer NOT NULL CHECK (run_number >= 1),
    workflow_id         text NOT NULL UNIQUE,
    status              text NOT NULL,
    -- Set once the Temporal client has confirmed the workflow start, so that a run
    -- whose start was lost in a crash can be found and started again.
    workflow_started_at timestamptz,
    scheduled_for       timestamptz,
    stage               jsonb NOT NULL DEFAULT '{}'::jsonb,
    stop_requested_at   timestamptz,
    recipient_count     integer NOT NULL DEFAULT 0,
    -- Delivery counts per status, kept by the triggers below so that list pages
    -- read them without counting delivery rows.
    pending_count       integer NOT NULL DEFAULT 0,
    sending_count       integer NOT NULL DEFAULT 0,
    delivered_count     integer NOT NULL DEFAULT 0,
    failed_count        integer NOT NULL DEFAULT 0,
    skipped_count       integer NOT NULL DEFAULT 0,
    batch_count         integer NOT NULL DEFAULT 0,
    created_by          uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    UNIQUE (campaign_id, run_number)
);

CREATE TABLE deliveries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES campaign_runs (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    team_id     uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The address resolved when the run started; NULL when the user had none.
    address     text,
    batch_no    integer NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'skipped')),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    claimed_at  timestamptz,
    sent_at     timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, user_id)
);
CREATE INDEX deliveries_run_batch_idx ON deliveries (run_id, batch_no, status);
CREATE INDEX deliveries_run_status_idx ON deliveries (run_id, status, id);

-- Keep campaign_runs' per-status counts in step with the delivery rows. The triggers
-- run once per statement and apply the net change per run, so a batch update of
-- 500 rows costs one counter update.
CREATE FUNCTION apply_delivery_count_delta(run_ids uuid[], statuses text[], deltas integer[])
RETURNS void
LANGUAGE sql AS $$
    WITH changes AS (
        SELECT * FROM unnest(run_ids, statuses, deltas) AS c (run_id, status, n)
    ),
    per_run AS (
        SELECT run_id,
               coalesce(sum(n) FILTER (WHERE status = 'pending'), 0) AS pending,
               coalesce(sum(n) FILTER (WHERE status = 'sending'), 0) AS sending,
               coalesce(sum(n) FILTER (WHERE status = 'delivered'), 0) AS delivered,
               coalesce(sum(n) FILTER (WHERE status = 'failed'), 0) AS failed,
               coalesce(sum(n) FILTER (WHERE status = 'skipped'), 0) AS skipped
        FROM changes
        GROUP BY run_id
    )
    UPDATE campaign_runs r
    SET pending_count = r.pending_count + p.pending,
        sending_count = r.sending_count + p.sending,
        delivered_count = r.delivered_count + p.delivered,
        failed_count = r.failed_count + p.failed,
        skipped_count = r.skipped_count + p.skipped
    FROM per_run p
    WHERE r.id = p.run_id;
$$;

CREATE FUNCTION delivery_counts_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM apply_delivery_count_delta(array_agg(run_id), array_agg(status), array_agg(1))
    FROM new_rows;
    RETURN NULL;
END;
$$;

CREATE FUNCTION delivery_counts_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM apply_delivery_count_delta(array_agg(c.run_id), array_agg(c.status), array_agg(c.delta))
    FROM (
        SELECT n.run_id, n.status, 1 AS delta
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status <> o.status
        UNION ALL
        SELECT o.run_id, o.status, -1
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status <> o.status
    ) c;
    RETURN NULL;
END;
$$;

CREATE FUNCTION delivery_counts_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM apply_delivery_count_delta(array_agg(run_id), array_agg(status), array_agg(-1))
    FROM old_rows;
    RETURN NULL;
END;
$$;

CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_after_insert();
CREATE TRIGGER deliveries_count_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_after_update();
CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_after_delete();
