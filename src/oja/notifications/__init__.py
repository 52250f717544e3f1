"""Notifications: events turned into in-app messages, email and SMS, by templates and preferences.

This module sits above identity and billing and below the marketplace; other modules never import
it, they emit events (:mod:`oja.core.events`) inside their unit of work, and :mod:`.jobs`
subscribes to every event in :data:`oja.notifications.catalogue.EVENTS`.

The payload contract (what an emitter passes to ``events.emit(name, **payload)``):

- ``recipient_ids: list[UUID]`` — required: the users to notify. Emitters resolve them (the buyer,
  the store's staff, a store's followers); unknown and disabled users are skipped.
- ``event_id: UUID`` — optional: the same id emitted twice notifies once (give one when the
  emitter itself may run twice, e.g. from a provider webhook).
- the event's own data, as listed by the event's ``sample`` in the catalogue: ids as strings or
  UUIDs, amounts as integers in minor units with a ``currency`` beside them, titles and names as
  text. Every value must be JSON-serialisable; it is stored on the notification (``data``) and is
  what the templates render.

The subscriber only enqueues ``notifications.deliver_event`` in the emitter's transaction (the job
row is the outbox: a rolled-back change notifies no one). That job stores one in-app notification
per recipient and one pending delivery per external channel allowed, and enqueues
``notifications.send_deliveries`` for them in batches, which send each at most once
(:mod:`.delivery`).
Providers' status callbacks (:mod:`.callbacks`) move deliveries to ``delivered`` or ``failed``.
Low-level adapters live in :mod:`oja.channels`.
"""
