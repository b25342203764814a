"""Our uplift random forest (Rzepakowski & Jaroszewicz 2012, Euclidean-distance criterion).

Why our own: CausalML's ``UpliftRandomForestClassifier`` is a benchmark peer, so the tree method
we ship must be ours. Trees grow level by level on quantile-binned features, so one pass of
``np.bincount`` per level gives every node's split statistics (treated/control counts and
responders per feature and bin) — no Python loop over samples or thresholds.

For a binary outcome the ED divergence of a node is 2 (p_t - p_c)^2, so the split gain is
sum_child n_child/n * tau_child^2 - tau^2 (the causal-tree "variance of effects" criterion).
A split needs ``min_samples_leaf`` treated and as many control rows on each side.
Multi-arm: one forest per treatment arm against the control.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from finetune.uplift.learners import _pair, check_inputs


def make_bins(X: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Per feature, the distinct quantile edges; a value's bin = number of edges below it."""
    qs = np.linspace(0, 1, n_bins + 1)[1:-1]
    return [np.unique(np.nanquantile(col, qs)) for col in X.T]


def apply_bins(X: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    # bin b holds edges[b-1] < x <= edges[b], so "bin <= b" means "x <= edges[b]"; a missing
    # value sorts after every edge and lands in the last bin
    return np.column_stack([np.searchsorted(e, col, side="left") for e, col in zip(edges, X.T)])


@dataclass
class Tree:
    feature: np.ndarray  # -1 for a leaf
    threshold: np.ndarray  # split goes left when bin <= threshold
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray  # estimated uplift of the node

    def predict(self, Xb: np.ndarray) -> np.ndarray:
        node = np.zeros(len(Xb), dtype=int)
        rows = np.arange(len(Xb))
        while True:
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                return self.value[node]
            r, n, fi = rows[inner], node[inner], f[inner]
            go_left = Xb[r, fi] <= self.threshold[n]
            node[inner] = np.where(go_left, self.left[n], self.right[n])


def _node_stats(Xb, t, y, local, n_nodes, n_bins):
    """stats[s, node, feature, bin] for s in (treated, treated responders, control, control
    responders), for the samples whose active-node index is `local`."""
    n_feat = Xb.shape[1]
    key = ((local[:, None] * n_feat + np.arange(n_feat)) * n_bins + Xb).ravel()
    size = n_nodes * n_feat * n_bins
    out = []
    for w in (t, t * y, 1 - t, (1 - t) * y):
        out.append(np.bincount(key, np.repeat(w, n_feat), minlength=size))
    return np.stack(out).reshape(4, n_nodes, n_feat, n_bins)


def _effect(nt, st, nc, sc):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(st / nt) - np.nan_to_num(sc / nc)


def grow_tree(Xb, t, y, n_bins, max_depth, min_samples_leaf, max_features, rng) -> Tree:
    root = _effect(t.sum(), (t * y).sum(), (1 - t).sum(), ((1 - t) * y).sum())
    feature, threshold, left, right, value = [-1], [0], [-1], [-1], [root]
    node = np.zeros(len(y), dtype=int)
    active = np.array([0])
    for _ in range(max_depth):
        lookup = np.full(len(feature), -1)
        lookup[active] = np.arange(len(active))
        local = lookup[node]
        live = local >= 0
        if not live.any():
            break
        stats = _node_stats(Xb[live], t[live], y[live], local[live], len(active), n_bins)
        left_stats = np.cumsum(stats, axis=3)
        total = left_stats[..., -1:]
        right_stats = total - left_stats
        ok = np.minimum(left_stats[[0, 2]].min(0), right_stats[[0, 2]].min(0)) >= min_samples_leaf
        n_left = left_stats[0] + left_stats[2]
        n_right = right_stats[0] + right_stats[2]
        n_all = n_left + n_right
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = n_left * _effect(*left_stats) ** 2 + n_right * _effect(*right_stats) ** 2
            gain = spread / n_all - _effect(*total) ** 2
        allowed = rng.random(gain.shape[:2]) < max_features
        allowed[np.arange(len(active)), rng.integers(0, gain.shape[1], len(active))] = True
        gain = np.where(ok & allowed[..., None], gain, -np.inf)
        flat = gain.reshape(len(active), -1)
        best = flat.argmax(1)
        best_gain = flat[np.arange(len(active)), best]
        new_active = []
        for i, node_id in enumerate(active):
            if not best_gain[i] > 0:
                continue
            f, b = divmod(best[i], n_bins)
            children = []
            for side in (left_stats, right_stats):
                children.append(len(feature))
                feature.append(-1), threshold.append(0), left.append(-1), right.append(-1)
                value.append(_effect(*side[:, i, f, b]))
            feature[node_id], threshold[node_id] = f, b
            left[node_id], right[node_id] = children
            new_active += children
        if not new_active:
            break
        moved = live & np.isin(node, active)
        f_of = np.asarray(feature)[node[moved]]
        go_left = Xb[moved, f_of] <= np.asarray(threshold)[node[moved]]
        split = f_of >= 0
        idx = np.flatnonzero(moved)[split]
        node[idx] = np.where(go_left[split], np.asarray(left)[node[idx]], np.asarray(right)[node[idx]])
        active = np.array(new_active)
    return Tree(*(np.asarray(a) for a in (feature, threshold, left, right, value)))


@dataclass
class UpliftForest:
    """Bagged uplift trees with per-node feature sampling; one forest per treatment arm."""

    n_trees: int = 100
    max_depth: int = 6
    min_samples_leaf: int = 100
    max_features: float = 0.6
    n_bins: int = 32
    seed: int = 0
    name: str = "uplift_forest"
    forests: list = field(default_factory=list, repr=False)

    def fit(self, X, arm, y, propensity):
        self.n_treat = check_inputs(X, arm, y, propensity)
        self.edges = make_bins(np.asarray(X, float), self.n_bins)
        Xb = apply_bins(np.asarray(X, float), self.edges)
        rng = np.random.default_rng(self.seed)
        self.forests = []
        for k in range(1, self.n_treat + 1):
            rows, t = _pair(arm, k)
            Xk, yk = Xb[rows], y[rows].astype(float)
            trees = []
            for _ in range(self.n_trees):
                boot = rng.integers(0, len(yk), len(yk))
                trees.append(grow_tree(Xk[boot], t[boot], yk[boot], self.n_bins, self.max_depth,
                                       self.min_samples_leaf, self.max_features, rng))
            self.forests.append(trees)
        return self

    def predict(self, X):
        Xb = apply_bins(np.asarray(X, float), self.edges)
        return np.column_stack([np.mean([tree.predict(Xb) for tree in trees], axis=0)
                                for trees in self.forests])
