"""Detection: detector port and backends, model registry, tracking, zone rules, evidence rendering."""

# Must run before anything in this package imports ultralytics (see the module's docstring).
from detect import _ultralytics_env  # noqa: F401
