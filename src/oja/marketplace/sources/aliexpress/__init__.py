"""The AliExpress Open Platform dropshipping adapter (see docs: marketplace-apis §3)."""
