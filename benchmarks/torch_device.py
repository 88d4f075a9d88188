"""PyTorch MLP training time on the demo data, GPU against CPU (run where a GPU is lent).

Usage: .venv/bin/python benchmarks/torch_device.py   (needs torch; prints one line per device)
"""

from __future__ import annotations

import time

import torch
from sklearn.metrics import roc_auc_score

from mining.features.store import inputs, load
from mining.params import load_params
from mining.train.candidates import build_candidate


def main() -> None:
    P = load_params()
    frame, defs = load(P)
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    settings = P["train"]["candidates"]["torch_mlp"]["defaults"]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        model = build_candidate("torch_mlp", settings, defs, seed=0, device=device)
        t0 = time.perf_counter()
        model.fit(train[inputs(defs)], train["target"].to_numpy())
        dt = time.perf_counter() - t0
        auc = roc_auc_score(test["target"], model.predict_proba(test[inputs(defs)])[:, 1])
        name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
        print(f"{device:<5} {name:<28} fit {dt:7.2f} s  epochs {model[-1].n_epochs_:3d}  holdout ROC AUC {auc:.4f}  "
              f"rows {len(train):,}  threads {torch.get_num_threads()}")
    if len(devices) == 1:
        print("no GPU visible to PyTorch: GPU figure not measured")


if __name__ == "__main__":
    main()
