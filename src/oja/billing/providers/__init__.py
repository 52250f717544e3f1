"""Adapters for the payment providers; the only place their wire formats and SDKs appear."""
