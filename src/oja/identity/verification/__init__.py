"""Proving an account's email address and mobile number."""
