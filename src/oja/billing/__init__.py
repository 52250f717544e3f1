"""Billing: plans, entitlements, quotas, Paystack payments, Stripe subscriptions, the webhook inbox."""
