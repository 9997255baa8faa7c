"""Typed client of the gridwatch API 0.1.0, generated from its OpenAPI spec by api/client/gen.py.

Do not edit: run ``python -m api.client.gen``; tests/api/test_client.py fails when it is stale.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from api.client.models import AbsenceOut, AssigneeOut, AttachmentOut, CalibrationPointOut, CameraEventsStatus, CameraStatus, CaseworkRules, CatalogueOut, CoverOut, DetectionOut, DetectorStats, DutyOut, EndedOut, EventKind, EventOut, EvidenceOut, Geometry, GridCollection, GridFeature, GridKind, GridMatch, GridProperties, Grouping, HealthOut, IncidentDetail, IncidentPage, IncidentState, IncidentWithActions, KpiRow, KpiTable, LineDirection, LiveCamera, LiveZone, LocatedBy, LogEntryOut, LonLatOut, MountOut, NodeHealthOut, PasswordChange, PlaceOut, Problem, RefreshIn, RegistryCamera, RosterOut, ServiceStatus, SessionOut, SessionsOut, ShiftOut, ShiftsOut, SiteOut, StaticMassOut, StorageState, Tier, TokenOut, TownshipHealthOut, TransitionIn, TransitionRule, UnitOut, UserOut, ZoneKind, ZoneOut, api__responses__StatusOut, api__routes__auth_sessions__StatusOut


class ApiError(Exception):
    """A 4xx or 5xx answer: ``status`` and the server's ``detail`` (a message or a list of problems)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _q(value: object) -> str:
    return quote(str(value), safe="")


def _dump(body: Any) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return body


class Client:
    """One gridwatch server: ``Client("https://gridwatch.example")``, then ``sign_in(user, password)``
    (or pass ``api_key=``) and call the methods, one per operation of the spec."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30,
        http: httpx.Client | None = None,
    ) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        if api_key is not None:
            self.http.headers["X-API-Key"] = api_key

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def sign_in(self, username: str, password: str) -> TokenOut:
        """The OAuth2 password grant; later calls carry the access token."""
        form = {"grant_type": "password", "username": username, "password": password}
        response = self._send("POST", "/api/v1/auth/token", data=form)
        tokens = TokenOut.model_validate(response.json())
        self.http.headers["Authorization"] = f"Bearer {tokens.access_token}"
        return tokens

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        content_type: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        headers = {"Content-Type": content_type} if content_type else None
        response = self.http.request(method, path, params=query, headers=headers, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise ApiError(response.status_code, detail)
        return response

    def token(self, body: dict[str, Any]) -> TokenOut:
        """POST /api/v1/auth/token: Token."""
        response = self._send('POST', '/api/v1/auth/token', json=_dump(body))
        return TypeAdapter(TokenOut).validate_python(response.json())


    def refresh(self, body: RefreshIn | dict[str, Any]) -> TokenOut:
        """POST /api/v1/auth/refresh: Refresh.

        Rotate: the old refresh token is spent, a new pair is returned.
        """
        response = self._send('POST', '/api/v1/auth/refresh', json=_dump(body))
        return TypeAdapter(TokenOut).validate_python(response.json())


    def logout(self) -> api__responses__StatusOut:
        """POST /api/v1/auth/logout: Logout."""
        response = self._send('POST', '/api/v1/auth/logout')
        return TypeAdapter(api__responses__StatusOut).validate_python(response.json())


    def me(self) -> UserOut:
        """GET /api/v1/auth/me: Me."""
        response = self._send('GET', '/api/v1/auth/me')
        return TypeAdapter(UserOut).validate_python(response.json())


    def list_incidents(self, *, unit: str | None = None, kind: EventKind | None = None, state: list[IncidentState] | None = None, open_only: bool | None = None, mine: bool | None = None, limit: int | None = None, offset: int | None = None) -> IncidentPage:
        """GET /api/v1/incidents: List Incidents."""
        response = self._send('GET', '/api/v1/incidents', params={'unit': unit, 'kind': kind, 'state': state, 'open_only': open_only, 'mine': mine, 'limit': limit, 'offset': offset})
        return TypeAdapter(IncidentPage).validate_python(response.json())


    def get_incident(self, incident_id: str) -> IncidentDetail:
        """GET /api/v1/incidents/{incident_id}: Get Incident."""
        response = self._send('GET', f'/api/v1/incidents/{_q(incident_id)}')
        return TypeAdapter(IncidentDetail).validate_python(response.json())


    def transition(self, incident_id: str, body: TransitionIn | dict[str, Any]) -> IncidentWithActions:
        """POST /api/v1/incidents/{incident_id}/transitions: Transition.

        Take a step of the loop: 403 when the caller's post may not take it on this case now.
        """
        response = self._send('POST', f'/api/v1/incidents/{_q(incident_id)}/transitions', json=_dump(body))
        return TypeAdapter(IncidentWithActions).validate_python(response.json())


    def casework_rules(self) -> CaseworkRules:
        """GET /api/v1/casework: Casework Rules.

        The loop's rules as data, for pages and clients: the state machine, who may take which step, and the
        reason codes returns and rejections need.
        """
        response = self._send('GET', '/api/v1/casework')
        return TypeAdapter(CaseworkRules).validate_python(response.json())


    def stream(self) -> httpx.Response:
        """GET /api/v1/stream: Stream.

        Server-sent events: every change of an incident the caller may see, as it commits, with the steps
        the caller may take on it now.
        """
        response = self._send('GET', '/api/v1/stream')
        return response


    def attach(self, incident_id: str, content: bytes | str, *, content_type: str = 'image/jpeg') -> AttachmentOut:
        """POST /api/v1/incidents/{incident_id}/attachments: Attach.

        A handler's photo, sent as the raw body (image/jpeg or image/png, at most 1 MiB).
        """
        response = self._send('POST', f'/api/v1/incidents/{_q(incident_id)}/attachments', content=content, content_type=content_type)
        return TypeAdapter(AttachmentOut).validate_python(response.json())


    def attachment(self, attachment_id: str) -> httpx.Response:
        """GET /api/v1/attachments/{attachment_id}: Attachment."""
        response = self._send('GET', f'/api/v1/attachments/{_q(attachment_id)}')
        return response


    def evidence(self, evidence_id: str, *, reason: str | None = None) -> httpx.Response:
        """GET /api/v1/evidence/{evidence_id}: Evidence."""
        response = self._send('GET', f'/api/v1/evidence/{_q(evidence_id)}', params={'reason': reason})
        return response


    def cameras(self) -> list[LiveCamera]:
        """GET /api/v1/cameras: Cameras."""
        response = self._send('GET', '/api/v1/cameras')
        return TypeAdapter(list[LiveCamera]).validate_python(response.json())


    def camera_snapshot(self, camera_id: str) -> httpx.Response:
        """GET /api/v1/cameras/{camera_id}/snapshot.jpg: Camera Snapshot."""
        response = self._send('GET', f'/api/v1/cameras/{_q(camera_id)}/snapshot.jpg')
        return response


    def camera_mjpeg(self, camera_id: str) -> httpx.Response:
        """GET /api/v1/cameras/{camera_id}/mjpeg: Camera Mjpeg."""
        response = self._send('GET', f'/api/v1/cameras/{_q(camera_id)}/mjpeg')
        return response


    def whep_offer(self, camera_id: str, content: bytes | str, *, content_type: str = 'application/sdp') -> httpx.Response:
        """POST /api/v1/cameras/{camera_id}/whep: Whep Offer.

        WHEP: POST an SDP offer (application/sdp), get the answer; DELETE the Location to hang up.
        """
        response = self._send('POST', f'/api/v1/cameras/{_q(camera_id)}/whep', content=content, content_type=content_type)
        return response


    def whep_hangup(self, session_id: str) -> None:
        """DELETE /api/v1/whep/{session_id}: Whep Hangup."""
        response = self._send('DELETE', f'/api/v1/whep/{_q(session_id)}')
        return None


    def list_registry(self) -> list[RegistryCamera]:
        """GET /api/v1/registry/cameras: List Registry."""
        response = self._send('GET', '/api/v1/registry/cameras')
        return TypeAdapter(list[RegistryCamera]).validate_python(response.json())


    def add_camera(self, body: Any) -> RegistryCamera:
        """POST /api/v1/registry/cameras: Add Camera.

        Add a camera; it starts streaming at once. 409 if the id is taken (use PUT to replace).
        """
        response = self._send('POST', '/api/v1/registry/cameras', json=_dump(body))
        return TypeAdapter(RegistryCamera).validate_python(response.json())


    def get_camera(self, camera_id: str) -> RegistryCamera:
        """GET /api/v1/registry/cameras/{camera_id}: Get Camera."""
        response = self._send('GET', f'/api/v1/registry/cameras/{_q(camera_id)}')
        return TypeAdapter(RegistryCamera).validate_python(response.json())


    def replace_camera(self, camera_id: str, body: Any) -> RegistryCamera:
        """PUT /api/v1/registry/cameras/{camera_id}: Replace Camera.

        Create or replace a camera; its analysis restarts with the new settings, the others run on.
        """
        response = self._send('PUT', f'/api/v1/registry/cameras/{_q(camera_id)}', json=_dump(body))
        return TypeAdapter(RegistryCamera).validate_python(response.json())


    def remove_camera(self, camera_id: str) -> None:
        """DELETE /api/v1/registry/cameras/{camera_id}: Remove Camera."""
        response = self._send('DELETE', f'/api/v1/registry/cameras/{_q(camera_id)}')
        return None


    def replace_zones(self, camera_id: str, body: Any) -> RegistryCamera:
        """PUT /api/v1/registry/cameras/{camera_id}/zones: Replace Zones.

        Replace the camera's zones (a JSON list); checked against its frame like the site YAML.
        """
        response = self._send('PUT', f'/api/v1/registry/cameras/{_q(camera_id)}/zones', json=_dump(body))
        return TypeAdapter(RegistryCamera).validate_python(response.json())


    def grids(self) -> GridCollection:
        """GET /api/v1/grids: Grids."""
        response = self._send('GET', '/api/v1/grids')
        return TypeAdapter(GridCollection).validate_python(response.json())


    def health(self) -> HealthOut:
        """GET /api/v1/health: Health.

        Liveness for probes: no object names, so it needs no sign-in.
        """
        response = self._send('GET', '/api/v1/health')
        return TypeAdapter(HealthOut).validate_python(response.json())


    def status(self) -> ServiceStatus:
        """GET /api/v1/status: Status."""
        response = self._send('GET', '/api/v1/status')
        return TypeAdapter(ServiceStatus).validate_python(response.json())


    def site(self) -> SiteOut:
        """GET /api/v1/site: Site.

        What the pages need to show local time: the county's time zone.
        """
        response = self._send('GET', '/api/v1/site')
        return TypeAdapter(SiteOut).validate_python(response.json())


    def metrics(self) -> httpx.Response:
        """GET /metrics: Metrics."""
        response = self._send('GET', '/metrics')
        return response


    def kpis(self, *, by: Grouping | None = None, from_: str | None = None, to: str | None = None, format: Literal['json', 'csv', 'xlsx'] | None = None) -> KpiTable | httpx.Response:
        """GET /api/v1/kpis: Kpis.

        KPIs per ``by`` of the cases opened in the range within the caller's scope, with their total.

        Every figure is defined in router/kpis.py; a ratio comes with its numerator and denominator.
        """
        response = self._send('GET', '/api/v1/kpis', params={'by': by, 'from': from_, 'to': to, 'format': format})
        if not response.headers.get("content-type", "").startswith("application/json"):
            return response
        return TypeAdapter(KpiTable).validate_python(response.json())


    def read_roster(self, unit_code: str) -> RosterOut:
        """GET /api/v1/roster/{unit_code}: Read Roster.

        The shifts of every unit under ``unit_code`` and the absences of the workers rostered there;
        ``version`` is the roster version the running router routes with (it moves once a change applied).
        """
        response = self._send('GET', f'/api/v1/roster/{_q(unit_code)}')
        return TypeAdapter(RosterOut).validate_python(response.json())


    def replace_shifts(self, unit_code: str, body: Any) -> ShiftsOut:
        """PUT /api/v1/roster/{unit_code}/shifts: Replace Shifts.

        Replace every shift of the units under ``unit_code``; applies to the next incident routed.
        """
        response = self._send('PUT', f'/api/v1/roster/{_q(unit_code)}/shifts', json=_dump(body))
        return TypeAdapter(ShiftsOut).validate_python(response.json())


    def add_shifts(self, unit_code: str, body: Any) -> ShiftsOut:
        """POST /api/v1/roster/{unit_code}/shifts: Add Shifts."""
        response = self._send('POST', f'/api/v1/roster/{_q(unit_code)}/shifts', json=_dump(body))
        return TypeAdapter(ShiftsOut).validate_python(response.json())


    def add_absence(self, body: Any) -> AbsenceOut:
        """POST /api/v1/roster/absences: Add Absence.

        Record leave: the worker is skipped from ``starts_at`` to ``ends_at`` and the cover stands in.
        """
        response = self._send('POST', '/api/v1/roster/absences', json=_dump(body))
        return TypeAdapter(AbsenceOut).validate_python(response.json())


    def remove_absence(self, absence_id: str) -> None:
        """DELETE /api/v1/roster/absences/{absence_id}: Remove Absence."""
        response = self._send('DELETE', f'/api/v1/roster/absences/{_q(absence_id)}')
        return None


    def storage(self) -> StorageState:
        """GET /api/v1/storage: Storage.

        Whole-installation figures: for the county's command centre and administrators.
        """
        response = self._send('GET', '/api/v1/storage')
        return TypeAdapter(StorageState).validate_python(response.json())


    def my_sessions(self) -> SessionsOut:
        """GET /api/v1/auth/sessions: My Sessions.

        The caller's open sessions, newest first; ``current`` marks the one this request uses.
        """
        response = self._send('GET', '/api/v1/auth/sessions')
        return TypeAdapter(SessionsOut).validate_python(response.json())


    def end_my_other_sessions(self) -> EndedOut:
        """DELETE /api/v1/auth/sessions: End My Other Sessions.

        End every session of the caller but the current one (a lost phone, a shared desk).
        """
        response = self._send('DELETE', '/api/v1/auth/sessions')
        return TypeAdapter(EndedOut).validate_python(response.json())


    def end_my_session(self, session_id: str) -> EndedOut:
        """DELETE /api/v1/auth/sessions/{session_id}: End My Session.

        End one of the caller's sessions: its refresh tokens are revoked and its access tokens refused.
        """
        response = self._send('DELETE', f'/api/v1/auth/sessions/{_q(session_id)}')
        return TypeAdapter(EndedOut).validate_python(response.json())


    def change_password(self, body: PasswordChange | dict[str, Any]) -> api__routes__auth_sessions__StatusOut:
        """POST /api/v1/auth/password: Change Password.

        Change one's own password: every session ends, this one included, and every refresh token is
        revoked, so whoever held the old password or a stolen token is out. A wrong current password counts
        towards the account's lock like a failed sign-in: a stolen token is no way to guess the password.
        """
        response = self._send('POST', '/api/v1/auth/password', json=_dump(body))
        return TypeAdapter(api__routes__auth_sessions__StatusOut).validate_python(response.json())


    def user_sessions(self, username: str) -> SessionsOut:
        """GET /api/v1/auth/users/{username}/sessions: User Sessions."""
        response = self._send('GET', f'/api/v1/auth/users/{_q(username)}/sessions')
        return TypeAdapter(SessionsOut).validate_python(response.json())


    def end_user_sessions(self, username: str) -> EndedOut:
        """DELETE /api/v1/auth/users/{username}/sessions: End User Sessions.

        End every session of a user (and revoke their refresh tokens): a stolen phone, a leaver.
        """
        response = self._send('DELETE', f'/api/v1/auth/users/{_q(username)}/sessions')
        return TypeAdapter(EndedOut).validate_python(response.json())


    def unlock_user(self, username: str) -> api__routes__auth_sessions__StatusOut:
        """DELETE /api/v1/auth/users/{username}/lock: Unlock User.

        Lift a sign-in lock before it ends (the user proved who they are some other way).
        """
        response = self._send('DELETE', f'/api/v1/auth/users/{_q(username)}/lock')
        return TypeAdapter(api__routes__auth_sessions__StatusOut).validate_python(response.json())


    def townships(self) -> list[TownshipHealthOut]:
        """GET /api/v1/health/townships: Townships.

        Every township the centre takes events from (``serve``: one, ``local``, always up, no lag).
        """
        response = self._send('GET', '/api/v1/health/townships')
        return TypeAdapter(list[TownshipHealthOut]).validate_python(response.json())
