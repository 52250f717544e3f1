"""Channels: the low-level delivery ports for SMS and email and their adapters.

Console, SMTP and SendGrid for email; console, Termii and Twilio for SMS. This package sits below
identity (which sends OTPs and verification mail through it) and knows nothing of users; the
notification service (:mod:`oja.notifications`, above identity and billing) builds on it.

Higher modules depend on the ports in :mod:`oja.channels.ports`; the factories in :mod:`.sms` and
:mod:`.mail` pick the adapter named by :class:`~oja.channels.config.ChannelSettings`.
"""
