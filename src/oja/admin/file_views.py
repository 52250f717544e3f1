"""Uploaded files: who owns them, what state their processing is in."""

from __future__ import annotations

from typing import Any, ClassVar

from oja.admin.base import ReadOnlyView, values_filter
from oja.files.models import File


class FileView(ReadOnlyView, model=File):
    name = "File"
    icon = "fa-solid fa-file"
    column_list: ClassVar[Any] = [
        File.original_filename,
        File.content_type,
        File.size,
        File.status,
        File.progress,
        File.owner_id,
        File.created_at,
    ]
    column_details_list: ClassVar[Any] = [
        File.id,
        File.owner_id,
        File.original_filename,
        File.title,
        File.description,
        File.content_type,
        File.declared_content_type,
        File.size,
        File.sha256,
        File.storage_key,
        File.status,
        File.progress,
        File.message,
        File.error,
        File.variants,
        File.created_at,
        File.processed_at,
        File.updated_at,
    ]
    column_labels: ClassVar[Any] = {
        File.original_filename: "Filename",
        File.content_type: "Type",
        File.size: "Bytes",
        File.status: "Status",
        File.progress: "Progress %",
        File.owner_id: "Owner",
        File.created_at: "Created",
    }
    column_filters: ClassVar[Any] = [
        values_filter(File.status),
    ]
    column_searchable_list: ClassVar[Any] = [File.original_filename, File.sha256]
    column_sortable_list: ClassVar[Any] = [File.created_at, File.size, File.status]
    column_default_sort: ClassVar[Any] = [(File.created_at, True)]
