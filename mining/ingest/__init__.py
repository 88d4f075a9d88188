"""Stage 02: read a source, validate it against a schema, quarantine failures, write Parquet."""
