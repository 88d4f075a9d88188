"""Stage 06: the serving bundle and the REST API that loads it."""
