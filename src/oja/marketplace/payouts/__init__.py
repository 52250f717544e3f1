"""Payouts: a store's bank account, the periodic transfer of its available balance, and the
transfers' tracking to ``paid``, ``failed`` or ``reversed``."""
