"""Stage 09: each trained version into the MLflow model registry, the warehouse star schema, the executive dashboard, BI exports, the report index."""
