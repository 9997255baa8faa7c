"""ONVIF: onboarding (device.py), WS-Discovery (discovery.py), camera events (events.py, pullpoint.py)."""

from __future__ import annotations

import logging

_root = logging.getLogger()
_handlers, _level = list(_root.handlers), _root.level

import onvif  # noqa: E402,F401

# onvif-zeep-async 4.3 calls logging.basicConfig(level=INFO) when imported: a stderr handler on the
# root logger that would print every INFO line of the service and of the CLI. Logging is the
# application's to configure, so undo it.
for _handler in _root.handlers[:]:
    if _handler not in _handlers:
        _root.removeHandler(_handler)
_root.setLevel(_level)

# The library logs every SOAP exchange at DEBUG, WS-Security header included: a password digest with
# its nonce and timestamp, enough for an offline guess of the camera password. Keep that out of any
# log, whatever level the application runs at.
logging.getLogger("onvif.zeep_aiohttp").setLevel(logging.INFO)
logging.getLogger("zeep.transports").setLevel(logging.INFO)
