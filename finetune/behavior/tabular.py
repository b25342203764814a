"""Tabular behaviour models: the RFM heuristic, logistic regression on log RFM + tenure, and
LightGBM on every engineered feature. Each predicts P(event) and explains a score as additive
log-odds contributions per feature (what the tool reports as top factors)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from finetune.behavior.data import Split
from knowledge.features import RFM_COLUMNS

BIAS = "(baseline)"


def log_rfm(features: pd.DataFrame) -> pd.DataFrame:
    """log1p of recency, frequency, monetary, tenure; no purchase yet = recency of the tenure."""
    rfm = features[RFM_COLUMNS].copy()
    rfm["recency_days"] = rfm["recency_days"].fillna(rfm["tenure_days"])
    return np.log1p(rfm.clip(lower=0))


class TabularModel:
    name = "tabular"
    columns: list[str]

    def fit(self, train: Split, val: Split) -> dict:
        raise NotImplementedError

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Log-odds contribution of each feature (columns) plus BIAS, per row."""
        raise NotImplementedError

    def save(self, folder: Path) -> None:
        joblib.dump(self, Path(folder) / "model.joblib")

    @staticmethod
    def load(folder: Path) -> TabularModel:
        return joblib.load(Path(folder) / "model.joblib")


class RFMHeuristic(TabularModel):
    """Classic RFM: quintile scores 1-5 for recency, frequency and monetary, summed (3-15); the
    probability of each total is its smoothed positive rate on the training rows."""

    name = "rfm"
    columns: ClassVar[list[str]] = ["recency_days", "frequency", "monetary"]

    def _score(self, features: pd.DataFrame) -> pd.DataFrame:
        rfm = log_rfm(features)[self.columns]
        rfm["recency_days"] = -rfm["recency_days"]  # recent = high score
        return pd.DataFrame({c: np.searchsorted(self.edges[c], rfm[c], side="right") + 1
                             for c in self.columns}, index=features.index)

    def fit(self, train: Split, val: Split) -> dict:
        rfm = log_rfm(train.features)[self.columns]
        rfm["recency_days"] = -rfm["recency_days"]
        self.edges = {c: np.unique(np.quantile(rfm[c], [0.2, 0.4, 0.6, 0.8])) for c in self.columns}
        total = self._score(train.features).sum(axis=1)
        prior, strength = float(train.labels.mean()), 10.0
        grouped = pd.Series(train.labels, index=total.index).groupby(total.to_numpy())
        self.rate = ((grouped.sum() + prior * strength) / (grouped.count() + strength)).to_dict()
        self.prior = prior
        return {}

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        total = self._score(features).sum(axis=1)
        return total.map(lambda t: self.rate.get(t, self.prior)).to_numpy(float)

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """The logit gap to the prior, split over R, F and M in proportion to how far each
        quintile score is from the middle (3); equal thirds when all three are 3."""
        prior = logit(np.array([self.prior]))[0]
        gap = logit(self.predict(features)) - prior
        distance = (self._score(features) - 3).abs().astype(float) + 1e-9
        out = distance.div(distance.sum(axis=1), axis=0).mul(gap, axis=0)
        out[BIAS] = prior
        return out


class LogisticRFM(TabularModel):
    """Logistic regression on standardised log recency, frequency, monetary and tenure."""

    name = "logreg"
    columns = RFM_COLUMNS

    def fit(self, train: Split, val: Split) -> dict:
        self.scaler = StandardScaler().fit(log_rfm(train.features))
        self.model = LogisticRegression(C=1.0, max_iter=1000)
        self.model.fit(self.scaler.transform(log_rfm(train.features)), train.labels)
        return {}

    def _x(self, features: pd.DataFrame) -> np.ndarray:
        return self.scaler.transform(log_rfm(features))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(self._x(features))[:, 1]

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """coef * standardised value: each term of the logit (0 = an average user)."""
        out = pd.DataFrame(self._x(features) * self.model.coef_[0], index=features.index,
                           columns=self.columns)
        out[BIAS] = self.model.intercept_[0]
        return out


class LogisticAll(LogisticRFM):
    """Logistic regression on every feature: log1p of the (non-negative) values, standardised;
    a missing value (e.g. no purchase yet) reads as the largest value seen in training."""

    name = "logreg-all"

    def _prepare(self, features: pd.DataFrame) -> pd.DataFrame:
        return np.log1p(features[self.columns].fillna(self.fill).clip(lower=0))

    def fit(self, train: Split, val: Split) -> dict:
        self.columns = list(train.features.columns)
        self.fill = (train.features.max() + 1).fillna(0)  # all-missing columns: 0
        x = self._prepare(train.features)
        self.scaler = StandardScaler().fit(x)
        self.model = LogisticRegression(C=0.1, max_iter=2000)
        self.model.fit(self.scaler.transform(x), train.labels)
        return {}

    def _x(self, features: pd.DataFrame) -> np.ndarray:
        return self.scaler.transform(self._prepare(features))


class LightGBMModel(TabularModel):
    """Gradient-boosted trees on every feature; early stopping on validation AUC. Contributions
    are LightGBM's exact TreeSHAP values (`pred_contrib`)."""

    name = "lightgbm"
    leaves = (7, 15, 31)
    params: ClassVar[dict] = {"objective": "binary", "learning_rate": 0.03,
              "min_data_in_leaf": 40, "feature_fraction": 0.8, "bagging_fraction": 0.8,
              "bagging_freq": 1, "lambda_l2": 1.0, "metric": "auc", "verbose": -1,
              "num_threads": 1, "seed": 0}  # threads spin-wait badly on a shared CPU

    def fit(self, train: Split, val: Split) -> dict:
        """Early stopping on validation AUC; the number of leaves is chosen on it too."""
        self.columns = list(train.features.columns)
        dtrain = lgb.Dataset(train.features[self.columns], train.labels, free_raw_data=False)
        dval = lgb.Dataset(val.features[self.columns], val.labels, reference=dtrain)
        best = None
        for leaves in self.leaves:
            params = {**self.params, "num_leaves": leaves,
                      "min_data_in_leaf": min(40, max(5, len(train) // 50))}
            booster = lgb.train(params, dtrain, num_boost_round=2000, valid_sets=[dval],
                                callbacks=[lgb.early_stopping(100, verbose=False)])
            auc = booster.best_score["valid_0"]["auc"]
            if best is None or auc > best[0]:
                best = (auc, leaves, booster)
        _, leaves, self.booster = best
        return {"best_iteration": int(self.booster.best_iteration), "num_leaves": leaves,
                "val_auc": float(best[0])}

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(features[self.columns],
                                    num_iteration=self.booster.best_iteration)

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        values = self.booster.predict(features[self.columns], pred_contrib=True,
                                      num_iteration=self.booster.best_iteration)
        return pd.DataFrame(values, index=features.index, columns=[*self.columns, BIAS])


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


TABULAR_MODELS: dict[str, type[TabularModel]] = {
    m.name: m for m in (RFMHeuristic, LogisticRFM, LogisticAll, LightGBMModel)}
