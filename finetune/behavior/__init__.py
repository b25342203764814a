"""Behaviour classifiers: will a user purchase (or click) within H days of a cutoff.

`data` builds temporal train/validation/test splits from the warehouse, `tabular` holds the RFM
heuristic, logistic regression and LightGBM, `encoder` the article's fine-tuned text encoder,
`artifacts` saves and finds versioned models, `train` is `shopmind train behavior`.
"""
