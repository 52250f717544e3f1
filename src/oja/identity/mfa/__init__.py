"""TOTP multi-factor authentication with single-use recovery codes."""
