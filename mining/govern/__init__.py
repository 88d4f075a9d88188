"""Stage 08: bias audit against the charter, data-protection record, review state."""
