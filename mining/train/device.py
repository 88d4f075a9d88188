"""Where the neural candidate trains: a GPU only when asked for or available; trees always on CPU."""

from __future__ import annotations


def resolve(device: str) -> str:
    """`auto` -> `cuda` when PyTorch sees a GPU, else `cpu`; `cuda` without one is an error."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"train.device={device!r}: expected auto, cpu or cuda")
    if device == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        if device == "cuda":
            raise RuntimeError("train.device=cuda but PyTorch is not installed (pip install torch)") from None
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise RuntimeError("train.device=cuda but PyTorch sees no GPU")
    return "cpu"
