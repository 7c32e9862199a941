"""Who am I: the key's id, name and role (useful to check a key)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from carbonstream.api.auth import Viewer
from carbonstream.api.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1", tags=["access"], responses=PROBLEM_RESPONSES)


class Me(BaseModel):
    key_id: str
    name: str
    role: str


@router.get("/me", summary="The API key in use", response_model=Me)
async def me(who: Viewer) -> Me:
    return Me(key_id=who.key_id, name=who.name, role=who.role.name.lower())
