"""Which trained model serves a task: the one that wins on the validation window.

Validation AUC decides (the ranking is what the percentile and the segment filters use; the
calibrator then fixes the probabilities); near-ties (within ``TIE``) go to the simpler model,
in the order of ``SIMPLICITY``, since a difference that small is noise at these sizes.
"""

from __future__ import annotations

TIE = 0.002
SIMPLICITY = ("rfm", "logreg", "logreg-all", "lightgbm")


def pick_on_validation(val_auc: dict[str, float]) -> str:
    """The model name with the best validation AUC; within TIE of it, the simplest."""
    if not val_auc:
        raise ValueError("no model to choose from: train one first")
    best = max(val_auc.values())
    close = [name for name, auc in val_auc.items() if auc >= best - TIE]
    return min(close, key=lambda n: (SIMPLICITY.index(n) if n in SIMPLICITY else len(SIMPLICITY),
                                     -val_auc[n]))
