"""Evidence storage: what is held, what open cases keep, free space, and whether clips are paused."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.deps import ContextDep, CurrentPrincipal
from models.records import Post

router = APIRouter(tags=["storage"])


class StorageState(BaseModel):
    clips_paused: bool = Field(description="New clips are refused (low space); events and snapshots are not.")
    reason: str = Field(description="Why clips are paused; empty when they are not.")
    free_bytes: int | None = Field(description="Free space where the embedded database lives; null: unknown.")
    min_free_bytes: int = Field(description="The floor under which clips pause.")
    held_bytes: int = Field(description="Evidence bytes held.")
    open_bytes: int = Field(description="Of those, bytes open incidents keep (never pruned).")
    quota_bytes: int | None = Field(description="The evidence quota; null: none.")
    pruned_total: int = Field(description="Evidence pruned so far (each in the audit trail).")
    dropped_clips: int = Field(description="Clips refused since start for lack of space.")


@router.get("/api/storage")
async def storage(ctx: ContextDep, principal: CurrentPrincipal) -> StorageState:
    """Whole-installation figures: for the county's command centre and administrators."""
    if principal.role not in (Post.ADMIN, Post.COUNTY_COMMAND):
        raise HTTPException(403, "storage figures are for the county command centre and administrators")
    if ctx.retention is None:
        raise HTTPException(503, "this process keeps no evidence store")
    guard, policy = ctx.retention.guard, ctx.retention.policy
    return StorageState(
        clips_paused=guard.clips_paused,
        reason=guard.reason,
        free_bytes=guard.free_bytes,
        min_free_bytes=policy.min_free_bytes,
        held_bytes=guard.held_bytes,
        open_bytes=guard.open_bytes,
        quota_bytes=policy.quota_bytes,
        pruned_total=guard.pruned_total,
        dropped_clips=guard.dropped_clips,
    )
