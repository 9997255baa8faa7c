"""The ``${ENV_VAR}`` placeholder: how a secret is named, never written, in a site file or a camera URL.

Secrets live in the service's environment. A camera URL that needs a password carries a placeholder such as
``rtsp://admin:${CAM_PASSWORD}@192.0.2.10/sub`` in the site YAML, the registry and the database alike, and
the placeholder is filled only when the stream is opened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

#: An environment variable name as the site file may write it: upper case, digits and '_', no leading digit.
ENV_NAME = r"[A-Z_][A-Z0-9_]*"
ENV_PLACEHOLDER = re.compile(rf"\$\{{({ENV_NAME})\}}")


def placeholder(name: str) -> str:
    """The placeholder naming environment variable ``name``; ValueError for a name the rule refuses."""
    if re.fullmatch(ENV_NAME, name) is None:
        raise ValueError(
            f"{name!r} is not an environment variable name (A-Z, 0-9 and _, not starting with a digit)"
        )
    return "${" + name + "}"


def is_placeholder(text: str) -> bool:
    """Whether text is exactly one ``${VAR}`` placeholder: the only form a password in a URL may take."""
    return ENV_PLACEHOLDER.fullmatch(text) is not None


def expand_source(source: str, environ: Mapping[str, str]) -> str:
    """Fill ${VAR} placeholders of a camera source from the environment, URL-quoted.

    Raises KeyError naming the variable when it is not set.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise KeyError(f"environment variable {name} is not set (needed by a camera source)")
        # Quoted whole: a password holding '@' or ':' would otherwise end the userinfo early.
        return quote(environ[name], safe="")

    return ENV_PLACEHOLDER.sub(value, source)


def expand_secret(value: str, environ: Mapping[str, str]) -> str:
    """A secret written as exactly one ``${VAR}`` placeholder, read from the environment, not URL-quoted.

    Raises KeyError naming the variable when it is not set.
    """
    match = ENV_PLACEHOLDER.fullmatch(value)
    if match is None:
        raise ValueError("a secret must be written as ${ENV_VAR}")
    name = match.group(1)
    if name not in environ:
        raise KeyError(f"environment variable {name} is not set (needed by gb28181:)")
    return environ[name]
