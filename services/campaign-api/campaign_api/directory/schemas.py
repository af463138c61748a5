"""Request and response bodies of the directory endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain import Role
from shared.validation import email_problem, timezone_problem, webhook_url_problem

Name = Annotated[str, Field(min_length=1, max_length=200)]


def _check_timezone(value: str | None) -> str | None:
    if value is not None and (problem := timezone_problem(value)):
        raise ValueError(problem)
    return value


class Addresses(BaseModel):
    """Per-channel addresses other than email."""

    model_config = ConfigDict(extra="forbid")

    slack: str | None = Field(default=None, max_length=200, description="Slack user id, such as U024BE7LH")
    teams: str | None = Field(default=None, max_length=200, description="Microsoft Teams user id")
    webhook: str | None = Field(default=None, max_length=2000, description="URL that receives this user's messages")

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and (problem := webhook_url_problem(value)):
            raise ValueError(problem)
        return value


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    default_timezone: str = Field(default="UTC", description="IANA zone for recipients without one")

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _check_timezone(value)


class Team(BaseModel):
    id: uuid.UUID
    name: str
    default_timezone: str
    role: Role
    created_at: datetime


class TeamSecret(BaseModel):
    webhook_secret: str = Field(description="HMAC-SHA256 key that signs this team's webhook deliveries")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    timezone: str | None = None
    addresses: Addresses = Field(default_factory=Addresses)
    role: Role | None = Field(
        default=None,
        description="Role in this team. A 'member' has no API access. When omitted, a new user becomes a "
        "'member' and an existing member keeps their role",
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and (problem := email_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return _check_timezone(value)


class User(BaseModel):
    id: uuid.UUID
    email: str | None
    first_name: str
    last_name: str
    timezone: str | None
    addresses: Addresses
    role: Role


class UserPage(BaseModel):
    items: list[User]
    next_cursor: str | None


class MembershipUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class ImportRowError(BaseModel):
    row: int = Field(description="1-based line number in the file, the header being line 1")
    field: str
    message: str


class ImportReport(BaseModel):
    created: int
    updated: int
    rejected: int
    errors: list[ImportRowError]


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = Field(default="", max_length=2000)
    user_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100_000)


class Group(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    member_count: int


class GroupMembersChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[uuid.UUID] = Field(min_length=1, max_length=100_000)


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class TokenCreated(BaseModel):
    id: uuid.UUID
    name: str
    token: str = Field(description="Shown once; only its hash is stored")


class Me(BaseModel):
    user_id: uuid.UUID
    email: str | None
    teams: list[Team]
