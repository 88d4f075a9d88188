"""The optional PyTorch candidate (skipped where torch is not installed; CI installs the CPU build)."""

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from mining.train.candidates import build_candidate  # noqa: E402
from mining.train.device import resolve  # noqa: E402

DEFS = {"features": [{"name": "x1", "kind": "numeric", "encoding": "none"},
                     {"name": "x2", "kind": "numeric", "encoding": "none"},
                     {"name": "c", "kind": "categorical", "encoding": "onehot"}], "imputation": {}}


def test_torch_mlp_learns_a_non_linear_boundary_and_stops_early():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x1": rng.normal(size=3000), "x2": rng.normal(size=3000), "c": rng.choice(["a", "b"], 3000)})
    y = ((X["x1"] ** 2 + X["x2"] ** 2 < 1.0) ^ (X["c"] == "a")).astype(int).to_numpy()
    model = build_candidate("torch_mlp", {"hidden": [32, 16], "max_epochs": 300, "lr": 0.01, "dropout": 0.0},
                            DEFS, seed=0, device="cpu").fit(X.iloc[:2500], y[:2500])
    p = model.predict_proba(X.iloc[2500:])[:, 1]
    assert ((p >= 0.5) == y[2500:]).mean() > 0.9
    assert model[-1].n_epochs_ < 300
    again = build_candidate("torch_mlp", {"hidden": [32, 16], "max_epochs": 300, "lr": 0.01, "dropout": 0.0},
                            DEFS, seed=0, device="cpu").fit(X.iloc[:2500], y[:2500])
    np.testing.assert_allclose(again.predict_proba(X.iloc[2500:])[:, 1], p, rtol=1e-5)  # seeded


def test_device_resolution():
    assert resolve("cpu") == "cpu"
    assert resolve("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="sees no GPU"):
            resolve("cuda")
    with pytest.raises(ValueError, match="expected auto, cpu or cuda"):
        resolve("tpu")
