"""The one package that builds the running system: the analysis role, the centre role, or both in one process.

    cameras ─► AnalysisNode ──EventReport/ClipReport──► link ──► Intake ─► EventWriter ─► PostgreSQL
               (detect/analysis)      (models/link.py)  (api/link.py)  (router/centre)      │ outbox
                    ▲                                                                     ▼
                    └──────── RunCamera/StopCamera ◄── CameraRegistry     OutboxRelay ─► live feed (SSE)
                                                                          Notifier ─► webhook/WeCom/DingTalk
                                                        Escalator ◄─ timers (deadlines)

Every worker is constructed here and handed its collaborators; none reaches through another to a store.
``serve`` and ``demo`` run both roles joined by an in-process queue.

The package holds one module per role: centre, system (analysis, the app, both in one process),
county (node and county centre over NATS) and gb (GB/T 28181).
"""

from api.wiring.centre import Centre, build_centre
from api.wiring.county import CountyCentre, Node, build_county_centre, build_node
from api.wiring.gb import build_gb28181
from api.wiring.system import OFFLINE_AFTER_S, System, build_analysis, build_app, build_system

__all__ = [
    "OFFLINE_AFTER_S",
    "Centre",
    "CountyCentre",
    "Node",
    "System",
    "build_analysis",
    "build_app",
    "build_centre",
    "build_county_centre",
    "build_gb28181",
    "build_node",
    "build_system",
]
