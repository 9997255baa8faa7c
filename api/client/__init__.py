"""The typed client of the gridwatch API, generated from its spec: ``from api.client.v1 import Client``."""
