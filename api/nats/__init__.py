"""NATS JetStream: the link between analysis nodes and the county centre across machines."""
