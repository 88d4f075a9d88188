"""Stage 05: holdout metrics, operating threshold, calibration, fairness, SHAP, the model card."""
