"""Users and API keys on the command line: how an installation gets its first administrator."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from api.auth import hash_password, key_digest, new_api_key, scope_of
from api.cli.common import app, audit_change, guard, out, run_with_store, settings
from api.problems import UsageProblem
from models.store import Store, UserRecord

users = typer.Typer(help="Manage users (each holds a post in the hierarchy).", no_args_is_help=True)
keys = typer.Typer(help="Manage API keys for machine clients.", no_args_is_help=True)
app.add_typer(users, name="user")
app.add_typer(keys, name="apikey")

RoleOption = Annotated[
    str, typer.Option(help="grid_worker, grid_leader, community, township, county_command or admin")
]
UnitOption = Annotated[
    str, typer.Option(help="Unit code of the post (grid 15, community 12, township 9, county 6)")
]


def _checked_scope(role: str, unit: str) -> None:
    try:
        scope_of(role, unit)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None


@users.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="Sign-in name")],
    role: RoleOption,
    unit: UnitOption = "",
    display_name: Annotated[str | None, typer.Option(help="Name shown on pages")] = None,
    worker_id: Annotated[str | None, typer.Option(help="The roster's worker_id of this person")] = None,
) -> None:
    """Add or update a user; the password comes from $GRIDWATCH_NEW_PASSWORD or a prompt."""

    def action() -> None:
        _checked_scope(role, unit)
        password = os.environ.get("GRIDWATCH_NEW_PASSWORD") or typer.prompt(
            "password", hide_input=True, confirmation_prompt=False
        )
        if len(password) < 10:
            raise UsageProblem("password too short: use at least 10 characters")
        record = UserRecord(
            username, display_name or username, hash_password(password), role, unit, worker_id, False
        )

        async def work(store: Store) -> None:
            await store.users.upsert(record)
            await audit_change(store, "upsert", "user", username, f"{role} of {unit or 'everything'}")

        run_with_store(settings(), work)
        out.print(f"user {username}: {role} of {unit or 'everything'}", markup=False)

    guard(action)


@keys.command("add")
def add_key(
    name: Annotated[str, typer.Argument(help="What the key is for")],
    role: RoleOption,
    unit: UnitOption = "",
) -> None:
    """Create an API key (send it as the X-API-Key header); it is printed once and stored hashed."""

    def action() -> None:
        _checked_scope(role, unit)
        key_id, key = new_api_key()

        async def work(store: Store) -> None:
            await store.users.add_api_key(key_id, name, key_digest(key), role, unit)
            await audit_change(store, "add", "api_key", key_id, f"{name}: {role} of {unit or 'everything'}")

        run_with_store(settings(), work)
        out.print(key, markup=False)

    guard(action)


@users.command("unlock")
def unlock_user(username: Annotated[str, typer.Argument(help="Sign-in name")]) -> None:
    """Lift a sign-in lock (too many wrong passwords) before it ends: the one way back for a locked admin."""

    def action() -> None:
        async def work(store: Store) -> bool:
            lifted = await store.sign_in.unlock("user", username)
            if lifted:
                await audit_change(store, "sign_in_unlocked", "user", username, "lifted on the command line")
            return lifted

        if not run_with_store(settings(), work):
            raise UsageProblem(f"{username} is not locked")
        out.print(f"user {username}: unlocked", markup=False)

    guard(action)


@users.command("sign-out")
def sign_out_user(username: Annotated[str, typer.Argument(help="Sign-in name")]) -> None:
    """End every session of a user (refresh tokens revoked, access tokens refused): a lost phone, a leaver."""

    def action() -> None:
        async def work(store: Store) -> int:
            if await store.users.get(username) is None:
                raise UsageProblem(f"no user {username}")
            ended = await store.sign_in.end_sessions(username, datetime.now(UTC), "cli")
            await audit_change(store, "sessions_ended", "user", username, f"{len(ended)} sessions")
            return len(ended)

        count = run_with_store(settings(), work)
        out.print(f"user {username}: {count} sessions ended", markup=False)

    guard(action)
