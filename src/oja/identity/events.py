"""The account events identity emits (:mod:`oja.core.events`) in the unit of work of the change,
each with ``recipient_ids`` (the account's own user): the notification service tells the user,
whatever their opt-outs (security messages are mandatory). Identity imports nothing of it."""

ACCOUNT_PASSWORD_CHANGED = "account.password_changed"  # noqa: S105 - an event name
"""A password was changed or reset; data: ``changed_at`` (ISO 8601)."""
ACCOUNT_SIGNED_IN = "account.signed_in"
"""A sign-in from an IP address and user agent the account never signed in from (not the
account's first sign-in); data: ``ip_address``, ``signed_in_at``."""
ACCOUNT_MFA_CHANGED = "account.mfa_changed"
"""Two-step sign-in was turned on or off; data: ``enabled``, ``changed_at``."""
