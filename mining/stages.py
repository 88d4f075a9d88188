"""The pipeline's stages as data: name -> notebook, in lifecycle order (dvc.yaml follows this list).

Two stages have a second notebook for the unsupervised path; the charter's task picks it.
"""

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

# DVC stages that run one command, not a notebook: the notebook copies the others depend on, and the
# labelled feedback `mining retrain` adds to the training rows (it persists between runs).
TOOL_STAGES: dict[str, str] = {
    "notebooks": "mining strip",
    "feedback": "mining feedback",
}

VARIANTS: dict[tuple[str, str], str] = {
    ("train", "segmentation"): "04_train_segmentation",
    ("evaluate", "segmentation"): "05_evaluate_segmentation",
}


def notebook_for(stage: str, task: str) -> str:
    """The notebook that runs `stage` for the charter's `task`."""
    return VARIANTS.get((stage, task), STAGES[stage])


def all_notebooks() -> list[str]:
    return [*STAGES.values(), *VARIANTS.values()]
