"""Team scoping in the data layer: list queries return nothing to a caller outside the team."""

from __future__ import annotations

from campaign_api.campaigns import repository
from tests.helpers import campaign_body, wait_for_status


async def test_list_queries_are_empty_for_outsiders(api, pool, directory, worker, smtp_sink):
    team = await directory.team()
    other = await directory.team(name="Finance")
    users = await directory.recipients(team, 2)
    created = await api.post(f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users), headers=team.auth())
    campaign_id = created.json()["id"]
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})
    run_id = detail["latest_run"]["id"]
    async with pool.acquire() as connection:
        insider = await connection.fetchval(
            "SELECT user_id FROM team_memberships WHERE team_id = $1 AND role = 'viewer'", team.id
        )
        outsider = await connection.fetchval(
            "SELECT user_id FROM team_memberships WHERE team_id = $1 AND role = 'manager'", other.id
        )
        recipient = users[0]

        for caller, expected in ((insider, 1), (outsider, 0), (recipient, 0)):
            campaigns = await repository.list_campaigns(
                connection, team_id=team.id, caller_id=caller, statuses=None, after=None, limit=10
            )
            runs = await repository.list_runs_page(
                connection, campaign_id=campaign_id, caller_id=caller, before_run_number=None, limit=10
            )
            deliveries = await repository.list_deliveries(
                connection, run_id=run_id, caller_id=caller, statuses=None, after_id=None, limit=10
            )
            assert len(campaigns) == expected
            assert len(runs) == expected
            assert len(deliveries) == 2 * expected
