"""Stage 04: candidate models compared by (time-aware) cross-validation; the best one refit."""
