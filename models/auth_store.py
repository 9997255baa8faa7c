"""Users, API keys, refresh tokens and the audit trail in PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    display_name: str
    password_hash: str
    role: str
    unit_code: str
    worker_id: str | None
    disabled: bool


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    name: str
    role: str
    unit_code: str


class AuthStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def upsert_user(self, user: UserRecord) -> None:
        await self.pool.execute(
            "INSERT INTO users (username, display_name, password_hash, role, unit_code, worker_id, disabled)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (username) DO UPDATE SET"
            " display_name = EXCLUDED.display_name, password_hash = EXCLUDED.password_hash,"
            " role = EXCLUDED.role, unit_code = EXCLUDED.unit_code, worker_id = EXCLUDED.worker_id,"
            " disabled = EXCLUDED.disabled",
            user.username,
            user.display_name,
            user.password_hash,
            user.role,
            user.unit_code,
            user.worker_id,
            user.disabled,
        )

    async def get_user(self, username: str) -> UserRecord | None:
        row = await self.pool.fetchrow(
            "SELECT username, display_name, password_hash, role, unit_code, worker_id, disabled"
            " FROM users WHERE username = $1",
            username,
        )
        return UserRecord(**dict(row)) if row is not None else None

    async def add_api_key(self, key_id: str, name: str, key_sha256: str, role: str, unit_code: str) -> None:
        await self.pool.execute(
            "INSERT INTO api_keys (id, name, key_sha256, role, unit_code) VALUES ($1,$2,$3,$4,$5)",
            key_id,
            name,
            key_sha256,
            role,
            unit_code,
        )

    async def api_key(self, key_sha256: str) -> ApiKeyRecord | None:
        row = await self.pool.fetchrow(
            "SELECT id, name, role, unit_code FROM api_keys WHERE key_sha256 = $1 AND revoked_at IS NULL",
            key_sha256,
        )
        return ApiKeyRecord(**dict(row)) if row is not None else None

    async def save_refresh(self, jti: str, username: str, expires_at: datetime) -> None:
        await self.pool.execute(
            "INSERT INTO refresh_tokens (jti, username, expires_at) VALUES ($1,$2,$3)",
            jti,
            username,
            expires_at,
        )

    async def use_refresh(self, jti: str, now: datetime) -> str | None:
        """Revoke a refresh token and return its user, or None if unknown, used or expired (rotation)."""
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE jti = $1 AND revoked_at IS NULL"
            " AND expires_at > $2 RETURNING username",
            jti,
            now,
        )

    async def revoke_refresh_tokens(self, username: str, now: datetime) -> None:
        await self.pool.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE username = $1 AND revoked_at IS NULL",
            username,
            now,
        )

    async def audit(
        self, *, actor: str, action: str, object_type: str, object_id: str, reason: str = "", client: str = ""
    ) -> None:
        await self.pool.execute(
            "INSERT INTO audit_log (actor, action, object_type, object_id, reason, client)"
            " VALUES ($1,$2,$3,$4,$5,$6)",
            actor,
            action,
            object_type,
            object_id,
            reason,
            client,
        )

    async def audit_entries(self, object_type: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if object_type is None:
            rows = await self.pool.fetch("SELECT * FROM audit_log ORDER BY id DESC LIMIT $1", limit)
        else:
            rows = await self.pool.fetch(
                "SELECT * FROM audit_log WHERE object_type = $1 ORDER BY id DESC LIMIT $2", object_type, limit
            )
        return [dict(r) for r in rows]

    async def add_attachment(
        self,
        attachment_id: str,
        incident_id: Any,
        media_type: str,
        sha256: str,
        data: bytes,
        uploaded_by: str,
    ) -> None:
        await self.pool.execute(
            "INSERT INTO incident_attachments (id, incident_id, media_type, sha256, size, data, uploaded_by)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7)",
            attachment_id,
            incident_id,
            media_type,
            sha256,
            len(data),
            data,
            uploaded_by,
        )

    async def attachment(self, attachment_id: str) -> tuple[dict[str, Any], bytes] | None:
        row = await self.pool.fetchrow(
            "SELECT a.id, a.media_type, a.sha256, a.data, a.incident_id, i.unit_code"
            " FROM incident_attachments a JOIN incidents i ON i.id = a.incident_id WHERE a.id = $1",
            attachment_id,
        )
        if row is None:
            return None
        meta = dict(row)
        data: bytes = meta.pop("data")
        return meta, data
