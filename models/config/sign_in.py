"""``sign_in:``: how many failed sign-ins lock an account or a client address, and for how long."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from models.config.base import ConfigModel


class SignInSection(ConfigModel):
    """Failed sign-ins within a window lock the account (or the address they came from) for a while;
    during a lock even the right password is refused, and every lock is in the audit trail."""

    max_failures: int = Field(
        default=20,
        ge=3,
        le=1000,
        title="Failures per account",
        description="Wrong passwords for one account within the window that lock it.",
    )
    max_failures_per_address: int = Field(
        default=100,
        ge=3,
        le=100_000,
        title="Failures per address",
        description="Failed sign-ins from one client address, whatever the name, that lock the address. "
        "Higher than per account: a centre's desks may share one address behind NAT.",
    )
    window_minutes: float = Field(
        default=15.0, gt=0, le=24 * 60, title="Window", description="Minutes over which failures are counted."
    )
    lockout_minutes: float = Field(
        default=15.0,
        gt=0,
        le=7 * 24 * 60,
        title="Lockout",
        description="Minutes a lock lasts; an admin may lift it sooner (DELETE /api/auth/users/NAME/lock).",
    )

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def lockout(self) -> timedelta:
        return timedelta(minutes=self.lockout_minutes)
