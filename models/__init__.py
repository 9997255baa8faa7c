"""The shared data model: typed records, the interface between the roles, site config, the database
and its store."""
