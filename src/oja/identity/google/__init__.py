"""Google Sign-In (OpenID Connect with PKCE)."""
