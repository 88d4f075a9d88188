"""The pipeline's stages as data: name -> notebook, in lifecycle order (dvc.yaml follows this list)."""

STAGES: dict[str, str] = {
    "scope": "01_scope",
    "ingest": "02_ingest",
    "features": "03_features",
    "train": "04_train",
    "evaluate": "05_evaluate",
    "deploy": "06_deploy",
    "monitor": "07_monitor",
    "govern": "08_govern",
    "enterprise": "09_enterprise",
}
