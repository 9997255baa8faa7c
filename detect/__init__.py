"""Frames to events: detector port and back-ends, weight registry, tracking, zone rules, evaluation, and
the analysis role that runs them per camera (analysis/)."""

# Must run before anything in this package imports ultralytics (see the module's docstring).
from detect import _ultralytics_env  # noqa: F401
