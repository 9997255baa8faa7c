"""Users with a post in the hierarchy, machine API keys and refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from models.store.base import NotFound, Repository


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


class UserRepository(Repository):
    async def upsert(self, user: UserRecord) -> None:
        """Add or update a user; a new password (or disabling) ends every session the user had."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await conn.fetchrow(
                "SELECT password_hash, disabled FROM users WHERE username = $1 FOR UPDATE", user.username
            )
            await self._upsert(conn, user)
            if before is not None and (before["password_hash"] != user.password_hash or user.disabled):
                await conn.execute(
                    "UPDATE sessions SET ended_at = now(), ended_by = 'password change'"
                    " WHERE username = $1 AND ended_at IS NULL",
                    user.username,
                )
                await conn.execute(
                    "UPDATE refresh_tokens SET revoked_at = now() WHERE username = $1 AND revoked_at IS NULL",
                    user.username,
                )

    async def set_password(self, username: str, password_hash: str) -> None:
        user = await self.get(username)
        if user is None:
            raise NotFound(f"no user {username}")
        await self.upsert(replace(user, password_hash=password_hash))

    @staticmethod
    async def _upsert(conn: asyncpg.Connection, user: UserRecord) -> None:
        await conn.execute(
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

    async def get(self, username: str) -> UserRecord | None:
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
        username: str | None = await self.pool.fetchval(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE jti = $1 AND revoked_at IS NULL"
            " AND expires_at > $2 RETURNING username",
            jti,
            now,
        )
        return username

    async def revoke_refresh_tokens(self, username: str, now: datetime) -> None:
        await self.pool.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE username = $1 AND revoked_at IS NULL",
            username,
            now,
        )
