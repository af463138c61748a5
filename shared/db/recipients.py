"""The SQL that resolves a campaign's targets to distinct recipients.

The API uses it for previews and the worker for writing delivery rows, so both
count the same people.
"""

from __future__ import annotations

# Address of a user on each channel, as an SQL expression over the users row `u`.
ADDRESS_SQL = {
    "email": "u.email",
    "webhook": "u.addresses->>'webhook'",
    "slack": "u.addresses->>'slack'",
    "teams": "u.addresses->>'teams'",
}


def recipients_cte(
    *, channel: str, team_param: str, user_ids_param: str, group_ids_param: str, campaign_param: str | None = None
) -> str:
    """Return a ``recipients (id, address, timezone)`` CTE body.

    Recipients are the given users and the current members of the given groups.
    When ``campaign_param`` is given, the users of that campaign's CSV list are
    recipients too, and a CSV row's time zone replaces the user's own. Each person
    counts once, and only members of the team count: a user who left the team is
    no longer a recipient.
    ``address`` is NULL or empty when the user has none on the channel. The
    parameters are SQL placeholders such as ``$1``.
    """
    address = ADDRESS_SQL[channel]
    timezone = "u.timezone"
    csv_join = ""
    csv_users = ""
    if campaign_param is not None:
        timezone = "coalesce(cr.timezone, u.timezone)"
        csv_join = f"LEFT JOIN campaign_csv_recipients cr ON cr.campaign_id = {campaign_param} AND cr.user_id = u.id"
        csv_users = f"""
            UNION
            SELECT user_id FROM campaign_csv_recipients WHERE campaign_id = {campaign_param}"""
    # IN over a UNION plans as one hashed semi-join; an OR of two conditions would
    # re-run the group subquery for every user row.
    return f"""
        SELECT u.id, {address} AS address, {timezone} AS timezone
        FROM users u
        JOIN team_memberships m ON m.user_id = u.id AND m.team_id = {team_param}
        {csv_join}
        WHERE u.id IN (
            SELECT unnest({user_ids_param}::uuid[])
            UNION
            SELECT gm.user_id
            FROM group_members gm
            JOIN groups g ON g.id = gm.group_id
            WHERE g.team_id = {team_param} AND g.id = ANY ({group_ids_param}::uuid[]){csv_users}
        )
    """


def unsent_recipients_cte(*, channel: str, team_param: str, campaign_param: str) -> str:
    """Return a ``recipients (id, address, timezone)`` CTE body for sending again.

    These are the campaign's earlier recipients who were never delivered in any of
    its runs and have no delivery in progress, restricted to current team members.
    Their address is looked up again, so a recipient who was unreachable and has
    since been given an address is reachable now.
    """
    address = ADDRESS_SQL[channel]
    return f"""
        SELECT u.id, {address} AS address, u.timezone
        FROM users u
        JOIN team_memberships m ON m.user_id = u.id AND m.team_id = {team_param}
        WHERE u.id IN (SELECT user_id FROM deliveries WHERE campaign_id = {campaign_param})
          AND NOT EXISTS (
                SELECT 1 FROM deliveries d
                WHERE d.campaign_id = {campaign_param} AND d.user_id = u.id
                  AND d.status IN ('delivered', 'pending', 'sending')
          )
    """
