"""Notifications (placeholder, filled below)."""
