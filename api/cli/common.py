"""What every ``gridwatch`` command shares: the Typer app, the consoles, problems and the database."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import getpass
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.problems import UsageProblem
from models.db import open_database
from models.settings import Settings
from models.store import Store
from router.imports.problems import ImportRejected

app = typer.Typer(
    name="gridwatch",
    help="Cameras in, complete, deduplicated, owned incidents out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
T = TypeVar("T")


def _as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def stopped_by_sigterm() -> Iterator[None]:
    """SIGTERM (systemd's stop, ``docker stop``) stops a long-running command as Ctrl-C does: cameras,
    clips and the store closed, the embedded PostgreSQL shut down. Uvicorn shuts its server down on
    either signal and then raises it again; SIGTERM's default action would end the process right there,
    before any of that, and leave the embedded server running."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are the main thread's: a command run from a test's thread keeps its own
        return
    previous = signal.signal(signal.SIGTERM, _as_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def fail(problems: list[str] | tuple[str, ...]) -> NoReturn:
    for problem in problems:
        err.print(f"error: {problem}", markup=False)
    raise typer.Exit(2)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageProblem(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageProblem(f"{path}: is a directory, expected a file") from None
    except UnicodeDecodeError as exc:
        raise UsageProblem(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageProblem(f"{path}: {exc.strerror}") from None


def run_with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured (or embedded) database, migrate, run ``work``, close everything."""
    database = open_database(settings.database_url, settings.data_dir)

    async def main() -> T:
        store = await Store.connect(database.url)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    finally:
        database.close()


def cli_actor() -> str:
    """Who the audit trail names for a change made on the command line: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry and no $USER (containers)
        return f"cli:uid {os.getuid()}"


async def audit_change(store: Store, action: str, object_type: str, object_id: str, reason: str = "") -> None:
    """Record a registry, roster or configuration change made on the command line (issue 12)."""
    await store.audit.record(
        actor=cli_actor(), action=action, object_type=object_type, object_id=object_id, reason=reason
    )


def settings() -> Settings:
    return Settings()


def guard(action: Callable[[], None]) -> None:
    """Run a command's work; a problem with the user's input exits 2 with one line per problem."""
    try:
        action()
    except UsageProblem as exc:
        fail(exc.problems)
    except ImportRejected as exc:
        fail([str(p) for p in exc.problems])


def progress(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def log_progress() -> None:
    """Long-running commands narrate at INFO; one-shot commands keep stderr for problems alone."""
    logging.getLogger().setLevel(logging.INFO)


def settle_heap() -> None:
    """Collect once and move everything alive after start-up (the site, its grids and roster, the models,
    the modules) out of the cyclic collector's sight: a busy centre allocates per event, and each full
    collection walked all of it again, over a third of the intake's time (bench/stream_intake.py)."""
    gc.collect()
    gc.freeze()
