"""Stage 09: model registry with lineage, BI exports, the report index."""
