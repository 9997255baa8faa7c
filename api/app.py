"""The FastAPI application, assembled: one router per resource over the context the wiring built."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors, versioning
from api.audit_trail import AuditChanges
from api.deps import AppContext
from api.routes import (
    auth,
    evidence,
    grids,
    incidents,
    kpis,
    links,
    live,
    meta,
    pages,
    registry,
    roster,
    storage,
)
from api.routes.auth_sessions import router as sessions_router
from api.security_headers import SecurityHeaders


def create_app(context: AppContext) -> FastAPI:
    app = FastAPI(
        title="gridwatch",
        version="0.1.0",
        description="Cameras in, complete, deduplicated, owned incidents out.",
    )
    app.state.context = context
    errors.install(app)
    for resource in (auth, incidents, evidence, live, registry, grids, meta, pages):
        app.include_router(resource.router)
    app.include_router(kpis.router)
    app.include_router(roster.router)
    app.include_router(storage.router)
    app.include_router(sessions_router)
    app.include_router(links.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.add_middleware(AuditChanges)
    app.add_middleware(SecurityHeaders)
    versioning.install(app)
    return app
