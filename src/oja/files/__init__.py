"""Files and media: streaming uploads, background processing (checksums, text, image variants),
per-owner access. Seeds 000 task 2 and 002."""
