"""The web pages: the command centre's wall, the sign-in page and the grid worker's phone page."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(str(resources.files("api") / "static"))

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/login")
async def login_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "login.html")


@router.get("/worker")
async def worker_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "worker.html")


@router.get("/kpis")
async def kpi_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "kpis.html")
