"""Identity: users, passwords, sessions with access/refresh tokens, roles, API keys."""
