"""The account events identity emits (:mod:`oja.core.events`) in the unit of work of the change,
each with ``recipient_ids`` (the account's own user): the notification service tells the user,
whatever their opt-outs (security messages are mandatory). Identity imports nothing of it."""

ACCOUNT_PASSWORD_CHANGED = "account.password_changed"  # noqa: S105 - an event name
"""A password was changed or reset; data: ``changed_at`` (ISO 8601)."""
ACCOUNT_SIGNED_IN = "account.signed_in"
"""A sign-in from an IP address and user agent the account never signed in from (not the
account's first sign-in); data: ``ip_address``, ``signed_in_at``."""
ACCOUNT_SESSION_STARTED = "account.session_started"
"""Every sign-in that started a session (password, one-time code, Google, the MFA step); data:
``db`` (the session of the sign-in's transaction: a one-time-code login's is its own, not the
request's unit of work), ``user_id``, ``client_id`` (the ``X-Client-Id`` header of the signing-in
request, as sent, or None). Not a notification: for modules that attribute a browser's anonymous
activity."""
ACCOUNT_MFA_CHANGED = "account.mfa_changed"
"""Two-step sign-in was turned on or off; data: ``enabled``, ``changed_at``."""
