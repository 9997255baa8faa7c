"""Notification messages, signing and retry policy: pure, so api/notifier.py only moves bytes."""
