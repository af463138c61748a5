-- Local-time waves and runs that send again to the recipients still without the message.

ALTER TABLE campaign_runs
    ADD COLUMN recipients_source text NOT NULL DEFAULT 'targets'
        CHECK (recipients_source IN ('targets', 'unsent'));

-- `timezone` is the zone the recipient's send time was computed in (their own, or the
-- team's default); `wave` numbers the groups of zones that share one send instant.
ALTER TABLE deliveries
    ADD COLUMN timezone text,
    ADD COLUMN wave integer NOT NULL DEFAULT 0;

CREATE INDEX deliveries_campaign_user_idx ON deliveries (campaign_id, user_id);
