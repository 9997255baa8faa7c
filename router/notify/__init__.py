"""Notification messages, channels, signing and retry policy: pure, so the centre's notifier
(router/centre/notifier.py) only moves bytes."""
