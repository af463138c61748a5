"""HTTP endpoints of the directory."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response, UploadFile, status

from campaign_api.auth.dependencies import CurrentPrincipal, Pool
from campaign_api.directory import schemas, service
from campaign_api.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/v1", tags=["directory"])


@router.get("/me", response_model=schemas.Me)
async def get_me(principal: CurrentPrincipal, pool: Pool) -> schemas.Me:
    return await service.describe_me(pool, principal=principal)


@router.post("/tokens", response_model=schemas.TokenCreated, status_code=status.HTTP_201_CREATED)
async def create_token(body: schemas.TokenCreate, principal: CurrentPrincipal, pool: Pool) -> schemas.TokenCreated:
    return await service.create_token(pool, principal=principal, name=body.name)


@router.post("/teams", response_model=schemas.Team, status_code=status.HTTP_201_CREATED)
async def create_team(body: schemas.TeamCreate, principal: CurrentPrincipal, pool: Pool) -> schemas.Team:
    return await service.create_team(pool, principal=principal, body=body)


@router.get("/teams", response_model=list[schemas.Team])
async def list_teams(principal: CurrentPrincipal, pool: Pool) -> list[schemas.Team]:
    return await service.list_teams(pool, principal=principal)


@router.get("/teams/{team_id}", response_model=schemas.Team)
async def get_team(team_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> schemas.Team:
    return await service.get_team(pool, principal=principal, team_id=team_id)


@router.get("/teams/{team_id}/webhook-secret", response_model=schemas.TeamSecret)
async def get_webhook_secret(team_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> schemas.TeamSecret:
    return await service.get_team_secret(pool, principal=principal, team_id=team_id)


@router.post("/teams/{team_id}/users", response_model=schemas.User)
async def add_user(
    team_id: uuid.UUID, body: schemas.UserCreate, principal: CurrentPrincipal, pool: Pool, response: Response
) -> schemas.User:
    """Add a user to the team; a user with the same email is updated and linked instead."""
    user, created = await service.add_user(pool, principal=principal, team_id=team_id, body=body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return user


@router.get("/teams/{team_id}/users", response_model=schemas.UserPage)
async def list_users(
    team_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: Pool,
    cursor: str | None = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> schemas.UserPage:
    return await service.list_users(pool, principal=principal, team_id=team_id, cursor=cursor, limit=limit)


@router.post("/teams/{team_id}/users/import", response_model=schemas.ImportReport)
async def import_users(team_id: uuid.UUID, file: UploadFile, principal: CurrentPrincipal, pool: Pool) -> schemas.ImportReport:
    """Import users from a UTF-8 CSV file; the report lists each rejected row and why."""
    return await service.import_users(pool, principal=principal, team_id=team_id, file=file.file)


@router.put("/teams/{team_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def set_member_role(
    team_id: uuid.UUID, user_id: uuid.UUID, body: schemas.MembershipUpdate, principal: CurrentPrincipal, pool: Pool
) -> None:
    await service.set_member_role(pool, principal=principal, team_id=team_id, user_id=user_id, role=body.role)


@router.post("/teams/{team_id}/groups", response_model=schemas.Group, status_code=status.HTTP_201_CREATED)
async def create_group(team_id: uuid.UUID, body: schemas.GroupCreate, principal: CurrentPrincipal, pool: Pool) -> schemas.Group:
    return await service.create_group(pool, principal=principal, team_id=team_id, body=body)


@router.get("/teams/{team_id}/groups", response_model=list[schemas.Group])
async def list_groups(team_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> list[schemas.Group]:
    return await service.list_groups(pool, principal=principal, team_id=team_id)


@router.post("/teams/{team_id}/groups/{group_id}/members", response_model=schemas.Group)
async def add_group_members(
    team_id: uuid.UUID, group_id: uuid.UUID, body: schemas.GroupMembersChange, principal: CurrentPrincipal, pool: Pool
) -> schemas.Group:
    return await service.change_group_members(
        pool, principal=principal, team_id=team_id, group_id=group_id, user_ids=body.user_ids, add=True
    )


@router.delete("/teams/{team_id}/groups/{group_id}/members", response_model=schemas.Group)
async def remove_group_members(
    team_id: uuid.UUID, group_id: uuid.UUID, body: schemas.GroupMembersChange, principal: CurrentPrincipal, pool: Pool
) -> schemas.Group:
    return await service.change_group_members(
        pool, principal=principal, team_id=team_id, group_id=group_id, user_ids=body.user_ids, add=False
    )
