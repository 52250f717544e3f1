"""Vendor sales reports and store performance, read from daily rollups."""
