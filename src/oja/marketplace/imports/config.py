"""Import settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import Settings, SettingsSection
from oja.core.dependencies import RuntimeDep


class ImportsSettings(SettingsSection):
    import_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    """Largest file `POST /vendors/me/imports` accepts (OJA_IMPORT_MAX_BYTES); enforced while
    reading (413)."""
    import_batch_rows: int = Field(default=1000, ge=1, le=10_000)
    """Rows applied and committed together (OJA_IMPORT_BATCH_ROWS): one statement per kind of
    write per batch, and the checkpoint a retried job resumes after."""
    import_job_timeout: float = Field(default=1800.0, gt=0)
    """Seconds one import job may run (read when the worker starts)."""
    import_max_failed_rows: int = Field(default=10_000, ge=1)
    """Failed rows kept in an import's report; later failures are counted, not described."""


async def get_imports_settings(runtime: RuntimeDep) -> ImportsSettings:
    return runtime.settings.section(ImportsSettings)


MULTIPART_OVERHEAD_BYTES = 64 * 1024


def import_body_limit(settings: Settings) -> int:
    """The whole `POST /vendors/me/imports` body's limit, for the request middleware's early 413."""
    return settings.section(ImportsSettings).import_max_bytes + MULTIPART_OVERHEAD_BYTES
