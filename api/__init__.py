"""HTTP and the command line: routes per resource, auth, live video, pages, the CLI, and the wiring module."""
