"""Orders: one order group per checkout (one payment), one store order per vendor, their lines,
status transitions, returns and refunds (seed 003 §3)."""
