"""Recommendation models: one module per item/user representation, one hybrid that blends them.

Every model follows ``base.Scorer``: ``fit(data)`` on a TrainData, ``score(histories)`` -> a dense
(users, items) matrix, ``save(folder)`` / ``load(folder)``. Users are represented by their event
history only (never by a trained user id), so a fresh event changes the next answer and users
unseen at training time are scored like any other.
"""
