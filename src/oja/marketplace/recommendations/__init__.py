"""Recommendations: behaviour events, item-to-item and content neighbours, per-caller lists."""
