"""Login sessions: password login, refresh-token rotation, logout, password change."""
