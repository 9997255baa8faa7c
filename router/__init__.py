"""Events to incidents: the pure core (place, grid, duty, triage, dedup, deadlines, lifecycle) and, in
centre/, the centre role that runs it."""
