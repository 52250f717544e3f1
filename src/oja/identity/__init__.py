"""Identity: users, roles and scopes, and every way to prove who is calling.

Shared here: the user tables and their repository and service, the auth dependencies
(:mod:`.dependencies`), JWTs (:mod:`.tokens`), passwords, throttling, delivery, digests, the
single-use spend (:mod:`.single_use`) and the error codes (:mod:`.errors`). Each way in is a
sub-package with the same file names: ``sessions``, ``otp``, ``mfa``, ``google``, ``recovery``,
``verification``, ``api_keys``.
"""
