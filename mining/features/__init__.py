"""Stage 03: history features as of a cut-off, the modelling table, definitions, drift baseline."""
