"""API keys for service-to-service access: hashed, scoped, expiring, rotatable."""
