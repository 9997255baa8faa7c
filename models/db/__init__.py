"""The database itself: where it is (configured or embedded) and its schema (numbered migrations)."""

from models.db.embedded import Database, masked, open_database
from models.db.migrate import available_migrations, migrate

__all__ = ["Database", "available_migrations", "masked", "migrate", "open_database"]
