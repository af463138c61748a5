-- The audit trail of campaign actions, CSV recipient lists, and the archived list.

-- One row per lifecycle action. `campaign_id` has no foreign key, so the events of
-- a deleted campaign stay readable. `actor_email` is copied when the event is
-- written, so the trail still names the person after their address changes.
CREATE TABLE audit_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id       uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    campaign_id   uuid NOT NULL,
    actor_id      uuid,
    actor_email   text,
    action        text NOT NULL,
    status_before text,
    status_after  text,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- A campaign's trail pages oldest first, a team's newest first, both by id.
CREATE INDEX audit_events_campaign_idx ON audit_events (campaign_id, id);
CREATE INDEX audit_events_team_idx ON audit_events (team_id, id DESC);
CREATE INDEX audit_events_team_action_idx ON audit_events (team_id, action, id DESC);

-- A campaign's CSV recipient list: a snapshot of the valid rows of the last upload.
-- `columns` are the template variable names (`csv.<column>`), already normalized.
CREATE TABLE campaign_csv_lists (
    campaign_id  uuid PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    team_id      uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    columns      text[] NOT NULL,
    row_count    integer NOT NULL DEFAULT 0,
    file_name    text,
    uploaded_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per recipient of a list. `line` is the row's line in the uploaded file;
-- `timezone`, when set, replaces the user's own zone for this campaign.
CREATE TABLE campaign_csv_recipients (
    campaign_id uuid NOT NULL REFERENCES campaign_csv_lists (campaign_id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    line        integer NOT NULL,
    timezone    text,
    variables   jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (campaign_id, user_id)
);

-- The archived list pages newest first like the main list, over far fewer rows.
CREATE INDEX campaigns_team_archived_idx ON campaigns (team_id, created_at DESC, id DESC)
    WHERE archived_at IS NOT NULL;
