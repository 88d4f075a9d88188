"""An optional PyTorch MLP with the scikit-learn classifier API, on a GPU when one is there.

Needs `pip install torch` (not a locked dependency: a plain install pulls a multi-GB CUDA build).
Early stopping on a held-out slice, like the boosters; inputs arrive already encoded and scaled by
the candidate's pipeline.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from torch import nn


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, hidden=(128, 64), dropout: float = 0.1, lr: float = 1e-3, weight_decay: float = 1e-4,
                 max_epochs: int = 200, batch_size: int = 512, patience: int = 10,
                 validation_fraction: float = 0.15, device: str = "cpu", random_state: int = 0):
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    def _net(self, n_in: int) -> nn.Module:
        layers, width = [], n_in
        for h in self.hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU(), nn.Dropout(self.dropout)]
            width = int(h)
        return nn.Sequential(*layers, nn.Linear(width, 1))

    def fit(self, X, y, sample_weight=None):
        torch.manual_seed(self.random_state)
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32)
        w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)
        tr, va = train_test_split(np.arange(len(y)), test_size=self.validation_fraction,
                                  random_state=self.random_state, stratify=y)
        dev = torch.device(self.device)
        Xt, yt, wt = (torch.from_numpy(a).to(dev) for a in (X[tr], y[tr], w[tr]))
        Xv, yv = torch.from_numpy(X[va]).to(dev), torch.from_numpy(y[va]).to(dev)
        net = self._net(X.shape[1]).to(dev)
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = nn.BCEWithLogitsLoss(reduction="none")
        gen = torch.Generator(device="cpu").manual_seed(self.random_state)
        best, best_state, stale = np.inf, None, 0
        for epoch in range(int(self.max_epochs)):
            net.train()
            for idx in torch.randperm(len(tr), generator=gen).split(int(self.batch_size)):
                idx = idx.to(dev)
                opt.zero_grad()
                loss = (loss_fn(net(Xt[idx]).squeeze(1), yt[idx]) * wt[idx]).mean()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                val = float(loss_fn(net(Xv).squeeze(1), yv).mean())
            if val < best - 1e-5:
                best, stale = val, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                stale += 1
                if stale >= self.patience:
                    break
        net.load_state_dict(best_state)
        self.net_ = net.to("cpu").eval()  # predictions on CPU: single rows gain nothing from a GPU
        self.n_epochs_ = epoch + 1
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        with torch.no_grad():
            logits = self.net_(torch.from_numpy(np.asarray(X, dtype=np.float32))).squeeze(1)
        p = torch.sigmoid(logits).numpy().astype(float)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
