"""The centre role's workers, beside the router's pure core: intake (events → incidents), the event writer,
the live feed relay, the escalator, the notifier, and the use cases the API calls (casework, registry)."""
