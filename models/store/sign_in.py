"""Sessions (one sign-in on one device) and the failed sign-ins that lock an account or an address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from models.store.base import Repository

LockKind = Literal["user", "address"]
#: How often a session's last use is written: reads happen on every request, writes need not.
TOUCH_EVERY = timedelta(seconds=60)
#: How long an ended or expired session stays listed in the table (the audit trail keeps the sign-ins).
KEEP_ENDED = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    username: str
    user_agent: str
    client: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Lock:
    kind: LockKind
    key: str
    locked_until: datetime
    failures: int


_SESSION_COLUMNS = "id, username, user_agent, client, created_at, last_used_at, expires_at"


class SignInRepository(Repository):
    # -- sessions -----------------------------------------------------------------------------------------
    async def open_session(
        self,
        session_id: str,
        username: str,
        user_agent: str,
        client: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        # A user's sessions long over are dropped as they open new ones, so the table stays small.
        await self.pool.execute(
            "DELETE FROM sessions WHERE username = $1 AND coalesce(ended_at, expires_at) < $2",
            username,
            now - KEEP_ENDED,
        )
        await self.pool.execute(
            "INSERT INTO sessions (id, username, user_agent, client, created_at, last_used_at, expires_at)"
            " VALUES ($1,$2,$3,$4,$5,$5,$6)",
            session_id,
            username,
            user_agent[:300],
            client,
            now,
            expires_at,
        )

    async def save_refresh(self, jti: str, session_id: str, username: str, expires_at: datetime) -> None:
        """A refresh token of a session; the session lives as long as its newest refresh token."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO refresh_tokens (jti, username, expires_at, session_id) VALUES ($1,$2,$3,$4)",
                jti,
                username,
                expires_at,
                session_id,
            )
            await conn.execute("UPDATE sessions SET expires_at = $2 WHERE id = $1", session_id, expires_at)

    async def use_refresh(self, jti: str, now: datetime) -> tuple[str, str | None] | None:
        """Spend a refresh token of an open session: (user, session id), or None when it proves nothing."""
        row = await self.pool.fetchrow(
            "UPDATE refresh_tokens r SET revoked_at = $2 WHERE r.jti = $1 AND r.revoked_at IS NULL"
            " AND r.expires_at > $2 AND (r.session_id IS NULL OR EXISTS (SELECT 1 FROM sessions s"
            " WHERE s.id = r.session_id AND s.ended_at IS NULL)) RETURNING r.username, r.session_id",
            jti,
            now,
        )
        return (row["username"], row["session_id"]) if row is not None else None

    async def touch(self, session_id: str, now: datetime) -> str | None:
        """The user of an open session (its last use noted, at most once a minute); None once it ended."""
        row = await self.pool.fetchrow(
            "SELECT username, last_used_at FROM sessions"
            " WHERE id = $1 AND ended_at IS NULL AND expires_at > $2",
            session_id,
            now,
        )
        if row is None:
            return None
        if now - row["last_used_at"] >= TOUCH_EVERY:
            await self.pool.execute("UPDATE sessions SET last_used_at = $2 WHERE id = $1", session_id, now)
        username: str = row["username"]
        return username

    async def sessions(self, username: str, now: datetime) -> list[SessionRecord]:
        rows = await self.pool.fetch(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE username = $1 AND ended_at IS NULL"
            " AND expires_at > $2 ORDER BY created_at DESC, id",
            username,
            now,
        )
        return [SessionRecord(**dict(row)) for row in rows]

    async def end_sessions(
        self, username: str, now: datetime, ended_by: str, session_id: str | None = None
    ) -> list[str]:
        """End one open session of ``username`` (or all of them) and revoke their refresh tokens, the
        tokens of no session included; the ids ended."""
        async with self.pool.acquire() as conn, conn.transaction():
            ended: list[str] = [
                row["id"]
                for row in await conn.fetch(
                    "UPDATE sessions SET ended_at = $2, ended_by = $3 WHERE username = $1"
                    " AND ended_at IS NULL AND ($4::text IS NULL OR id = $4) RETURNING id",
                    username,
                    now,
                    ended_by,
                    session_id,
                )
            ]
            await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE username = $1 AND revoked_at IS NULL"
                " AND ($3::text IS NULL OR session_id = $3)",
                username,
                now,
                session_id,
            )
        return ended

    # -- failed sign-ins and locks --------------------------------------------------------------------------
    async def lock(self, kind: LockKind, key: str, now: datetime) -> Lock | None:
        row = await self.pool.fetchrow(
            "SELECT kind, key, locked_until, failures FROM sign_in_locks"
            " WHERE kind = $1 AND key = $2 AND locked_until > $3",
            kind,
            key,
            now,
        )
        return Lock(**dict(row)) if row is not None else None

    async def fail(
        self, kind: LockKind, key: str, now: datetime, *, window: timedelta, limit: int, lockout: timedelta
    ) -> Lock | None:
        """Count one failure; the lock it starts when it is the ``limit``-th within ``window``, else None.

        The failures that led to a lock are cleared with it, so the count starts afresh when it ends.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            # Concurrent failures for one key are counted one after the other: none may slip past the limit.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('sign_in:' || $1 || ':' || $2))", kind, key
            )
            await conn.execute(
                "DELETE FROM sign_in_failures WHERE kind = $1 AND key = $2 AND at <= $3",
                kind,
                key,
                now - window,
            )
            await conn.execute(
                "INSERT INTO sign_in_failures (kind, key, at) VALUES ($1,$2,$3)", kind, key, now
            )
            count: int = await conn.fetchval(
                "SELECT count(*) FROM sign_in_failures WHERE kind = $1 AND key = $2", kind, key
            )
            if count < limit:
                return None
            until = now + lockout
            await conn.execute(
                "INSERT INTO sign_in_locks (kind, key, locked_at, locked_until, failures)"
                " VALUES ($1,$2,$3,$4,$5)"
                " ON CONFLICT (kind, key) DO UPDATE SET locked_at = EXCLUDED.locked_at,"
                " locked_until = EXCLUDED.locked_until, failures = EXCLUDED.failures",
                kind,
                key,
                now,
                until,
                count,
            )
            await conn.execute("DELETE FROM sign_in_failures WHERE kind = $1 AND key = $2", kind, key)
            return Lock(kind, key, until, count)

    async def forget_failures(self, kind: LockKind, key: str) -> None:
        """A successful sign-in: the user's earlier failures no longer count towards a lock."""
        await self.pool.execute("DELETE FROM sign_in_failures WHERE kind = $1 AND key = $2", kind, key)

    async def unlock(self, kind: LockKind, key: str) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM sign_in_failures WHERE kind = $1 AND key = $2", kind, key)
            removed = await conn.fetchval(
                "DELETE FROM sign_in_locks WHERE kind = $1 AND key = $2 RETURNING key", kind, key
            )
        return removed is not None
