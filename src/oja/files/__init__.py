"""Files and media: streaming uploads, background processing (checksums, text, image variants),
per-owner access."""
