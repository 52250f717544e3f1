"""The operator UI at ``/admin`` (sqladmin): read-only views of every module's records, plus the few
actions an operator needs (retry a failed job, revoke an API key, grant or revoke a role).

It sits above the feature modules, like :mod:`oja.api`: it may import any of them, none imports it.
"""

from oja.admin.site import mount_admin

__all__ = ["mount_admin"]
