"""The marketplace's double-entry ledger: accounts with running balances, balanced immutable
transactions booked once per source, and the split settlement of paid order groups."""
