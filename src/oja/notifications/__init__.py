"""Notifications: delivery ports for SMS and email and their adapters; later templates,
preferences, in-app messages and realtime push.

Higher modules depend on the ports in :mod:`oja.notifications.ports`; the factories in
:mod:`.sms` and :mod:`.mail` pick the adapter named by ``NotificationSettings``.
"""
