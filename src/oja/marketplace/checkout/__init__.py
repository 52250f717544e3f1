"""Checkout: one order group (one payment) and one store order per store, stock reserved
atomically; the payment's verification confirms the orders; unpaid reservations expire."""
