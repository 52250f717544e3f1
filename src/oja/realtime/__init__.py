"""Realtime updates: events written in the transaction that caused them, pushed after its commit to
WebSocket and SSE clients, fanned out across API replicas through Redis.

``await publish(session, "order.updated", {...}, topics=["user:…", "vendor:…", "order:…"])`` inside
a unit of work is the whole producer API. Who may hear a topic is decided by callables that higher
modules register (:mod:`oja.realtime.audiences`); this module imports nothing above identity.
"""

from __future__ import annotations

from oja.realtime.service import publish, publish_many

__all__ = ["publish", "publish_many"]
