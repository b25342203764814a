"""An ingested event rescores only its user, also when another process appended it, and the
result equals a full rescore; anything the event journal cannot explain (another writer, an
import in another process, a journal line cut short, an event on a new day) rescores everyone."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd
import pytest

from knowledge import event_journal, warehouse
from tests.another_process import in_another_process
from tests.trained_shop import private_copy, trained_purchase_shop
from tools import behavior

LAST_DAY = datetime(2026, 10, 31, 15)  # the small shop's history ends 2026-10-31: cutoff 11-01
APPEND = ("warehouse.append_event(path, user, product, 'purchase', datetime.fromisoformat(ts), "
          "quantity=3, price=12.5)\n")
IMPORT = ("with warehouse.atomic_update(path) as con:  # what every import does\n"
          "    con.execute('UPDATE events SET quantity = quantity + 1 WHERE quantity > 0')\n")


@pytest.fixture(scope="module")
def trained(small_shop, tmp_path_factory):
    return trained_purchase_shop(small_shop, tmp_path_factory.mktemp("invalidation"))


@pytest.fixture
def shop(trained, tmp_path):
    return private_copy(trained, tmp_path)


@pytest.fixture
def built_for(monkeypatch) -> list:
    """The `users` argument of every build_features call the tool makes (None = everyone)."""
    calls: list = []
    real = behavior.build_features

    def spy(con, cutoff, users=None, categories=()):
        calls.append(None if users is None else list(users))
        return real(con, cutoff, users, categories)

    monkeypatch.setattr(behavior, "build_features", spy)
    return calls


def some_user_and_product(shop) -> tuple[str, str]:
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    user = con.execute("SELECT min(user_id) FROM events").fetchone()[0]
    product = con.execute("SELECT min(product_id) FROM products").fetchone()[0]
    con.close()
    return user, product


def full_rescore(shop) -> tuple[pd.DataFrame, pd.DataFrame]:
    behavior._scores.clear()
    behavior._features.clear()
    served = behavior.served_model(shop)
    return (behavior.population_scores(shop),
            behavior.features_now(shop, tuple(served.meta.categories)))


def without_time(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "computed_at"}


def scores_and_features(shop) -> tuple[pd.DataFrame, pd.DataFrame]:
    served = behavior.served_model(shop)
    return (behavior.population_scores(shop),
            behavior.features_now(shop, tuple(served.meta.categories)))


@pytest.mark.parametrize("who", ["existing", "new"])
def test_an_event_rescores_only_its_user_and_equals_a_full_rescore(shop, built_for, who):
    user, product = some_user_and_product(shop)
    user = user if who == "existing" else "zz-new-customer"
    before, _ = scores_and_features(shop)
    built_for.clear()
    warehouse.append_event(shop.warehouse, user, product, "purchase", LAST_DAY,
                           quantity=3, price=12.5)
    scores, features = scores_and_features(shop)
    assert built_for == [[user], [user]]  # the scores' and the features' rows of that user only
    assert (user in before["user_id"].values) == (who == "existing")
    fresh_scores, fresh_features = full_rescore(shop)
    pd.testing.assert_frame_equal(scores, fresh_scores)
    pd.testing.assert_frame_equal(features, fresh_features)
    changed = scores.set_index("user_id")["probability"].reindex(before["user_id"])
    assert (changed.drop(user, errors="ignore")
            == before.set_index("user_id")["probability"].drop(user, errors="ignore")).all()


def test_an_event_on_a_new_day_rescores_everyone(shop, built_for):
    user, product = some_user_and_product(shop)
    scores_and_features(shop)
    built_for.clear()
    warehouse.append_event(shop.warehouse, user, product, "view", datetime(2026, 11, 1, 9))
    scores, _ = scores_and_features(shop)
    assert built_for == [None, None]  # the cutoff moved a day: everyone is a day older
    pd.testing.assert_frame_equal(scores, full_rescore(shop)[0])


def test_a_write_the_journal_did_not_see_rescores_everyone(shop, built_for):
    user, product = some_user_and_product(shop)
    scores_and_features(shop)
    built_for.clear()
    with warehouse.transaction(shop.warehouse) as con:  # e.g. an import or another process
        con.execute("INSERT INTO events (user_id, product_id, category, event_type, ts) "
                    "VALUES (?, ?, 'x', 'purchase', ?)", [user, product, LAST_DAY])
    warehouse.append_event(shop.warehouse, user, product, "view", LAST_DAY)
    scores_and_features(shop)
    assert built_for == [None, None]


def test_an_event_another_process_appended_rescores_only_its_user(shop, built_for):
    user, product = some_user_and_product(shop)
    scores_and_features(shop)  # this process's caches of the current state
    built_for.clear()
    in_another_process(APPEND, path=str(shop.warehouse), user=user, product=product,
                       ts=LAST_DAY.isoformat())  # e.g. a second API worker, or the CLI
    answer = behavior.predict(shop, user)
    assert built_for == [[user], [user]]  # the answer's own features, and the scores' row
    scores, features = scores_and_features(shop)
    assert built_for == [[user], [user], [user]]  # and the features' row
    fresh_scores, fresh_features = full_rescore(shop)
    pd.testing.assert_frame_equal(scores, fresh_scores)
    pd.testing.assert_frame_equal(features, fresh_features)
    assert without_time(answer) == without_time(behavior.predict(shop, user))


def test_an_import_in_another_process_rescores_everyone(shop, built_for):
    user, product = some_user_and_product(shop)
    scores_and_features(shop)
    built_for.clear()
    in_another_process(IMPORT + APPEND, path=str(shop.warehouse), user=user, product=product,
                       ts=LAST_DAY.isoformat())
    scores, _ = scores_and_features(shop)
    assert built_for == [None, None]
    pd.testing.assert_frame_equal(scores, full_rescore(shop)[0])


def test_a_journal_line_cut_short_rescores_everyone_and_loses_nothing(shop, built_for):
    user, product = some_user_and_product(shop)
    scores_and_features(shop)
    built_for.clear()
    in_another_process(APPEND, path=str(shop.warehouse), user=user, product=product,
                       ts=LAST_DAY.isoformat())
    journal = event_journal.journal_path(shop.warehouse)
    journal.write_bytes(journal.read_bytes()[:-15])  # that process died writing its line
    scores, features = scores_and_features(shop)
    assert built_for == [None, None]
    fresh_scores, fresh_features = full_rescore(shop)
    pd.testing.assert_frame_equal(scores, fresh_scores)
    pd.testing.assert_frame_equal(features, fresh_features)
    built_for.clear()
    warehouse.append_event(shop.warehouse, user, product, "view", LAST_DAY)  # a new journal
    scores_and_features(shop)
    assert built_for == [[user], [user]]
