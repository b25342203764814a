import json

import duckdb
import pytest

from finetune.behavior.artifacts import latest_servable, list_versions
from finetune.behavior.data import TaskDataError, TaskSpec, load_task, plan_cutoffs
from finetune.behavior.train import train_behavior
from tests.behavior_data import build_tiny_warehouse, random_shop_events


@pytest.fixture(scope="module")
def random_shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("behaviour")
    build_tiny_warehouse(root / "data" / "rand.duckdb", random_shop_events())
    return root


@pytest.fixture
def shop_settings(settings, random_shop):
    return settings.model_copy(update={"warehouse_dir": random_shop / "data", "shop": "rand"})


SPEC = TaskSpec(horizon_days=30, train_cutoffs=3, step_days=20)


def test_cutoffs_step_back_from_the_test_cutoff(shop_settings):
    con = duckdb.connect(str(shop_settings.warehouse), read_only=True)
    test, val, train = plan_cutoffs(con, SPEC)
    assert f"{test:%Y-%m-%d}" == "2024-06-19"  # day after the last event minus 30 days
    assert (test - val).days == 30 and [(val - c).days for c in train] == [30, 50, 70]
    data = load_task(con, SPEC)
    assert data.train.cutoffs.max() < data.val.cutoffs.min() < data.test.cutoffs.min()
    with pytest.raises(TaskDataError, match="data ends before"):
        plan_cutoffs(con, TaskSpec(horizon_days=30, test_cutoff="2024-07-01"))
    with pytest.raises(TaskDataError, match="no training cutoff left"):
        plan_cutoffs(con, TaskSpec(horizon_days=120))


def test_tabular_models_learn_and_save_versioned_artifacts(shop_settings):
    metas = train_behavior(shop_settings, SPEC, ["rfm", "logreg", "lightgbm"])
    by_name = {m.model: m for m in metas}
    for name in ("logreg", "lightgbm"):
        assert by_name[name].metrics["test"]["roc_auc"] > 0.7, name
    path, meta = latest_servable(shop_settings, "rand", "purchase_30d")
    assert meta.model == "lightgbm" and meta.cutoffs["test"] == ["2024-06-19"]
    saved = json.loads((path / "meta.json").read_text())
    assert {"model", "version", "metrics", "created_at", "data_end"} <= set(saved)
    assert (path / "predictions.parquet").is_file()
    assert len(list_versions(shop_settings, "rand", "purchase_30d")) == 3


def test_unknown_model_is_refused(shop_settings):
    with pytest.raises(TaskDataError, match="unknown model"):
        train_behavior(shop_settings, SPEC, ["xgboost"])


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A randomly initialised 2-layer BERT with MiniLM's tokenizer: the encoder code path in
    seconds (the real MiniLM is only checked for loading offline)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from finetune.behavior.encoder import minilm_path

    folder = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("mode", ["head", "full"])
def test_encoder_trains_saves_and_reloads(shop_settings, tiny_bert, mode):
    import numpy as np
    import pandas as pd

    from finetune.behavior.encoder import EncoderModel

    options = {"model_path": tiny_bert, "max_length": 64, "epochs": 1, "batch_size": 32,
               "bf16": False, "eval_every": 5}
    (meta,) = train_behavior(shop_settings, SPEC, [f"encoder-{mode}"], encoder_options=options,
                             encoder_rows={"val": 60, "test": None})
    assert meta.rows["val"] == 60
    assert meta.model == f"encoder-{mode}" and 0 < meta.metrics["test"]["roc_auc"] < 1
    assert meta.params["truncated_share"] > 0.5  # histories are longer than 64 tokens
    folder = shop_settings.artifacts_dir / "behavior" / "rand" / "purchase_30d" / meta.version
    saved = pd.read_parquet(folder / "predictions.parquet").query("split == 'test'")
    con = duckdb.connect(str(shop_settings.warehouse), read_only=True)
    test = load_task(con, SPEC, with_text=True).test
    again = EncoderModel.load(folder).predict_split(test)
    assert np.allclose(again, saved["probability"], atol=1e-5)
    assert latest_servable(shop_settings, "rand", "purchase_30d") is None  # not a tool model


def test_packaged_minilm_loads_offline():
    from transformers import AutoModel

    from finetune.behavior.encoder import minilm_path

    model = AutoModel.from_pretrained(minilm_path())
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6


@pytest.mark.parametrize("name", ["rfm", "logreg", "logreg-all", "lightgbm"])
def test_contributions_add_up_to_the_score(shop_settings, name):
    """The tool's top factors are honest: contributions + baseline = the model's logit."""
    import numpy as np

    from finetune.behavior.tabular import BIAS, TABULAR_MODELS, logit

    con = duckdb.connect(str(shop_settings.warehouse), read_only=True)
    data = load_task(con, SPEC)
    model = TABULAR_MODELS[name]()
    model.fit(data.train, data.val)
    contrib = model.contributions(data.test.features)
    assert BIAS in contrib.columns and contrib.drop(columns=BIAS).abs().to_numpy().sum() > 0
    assert np.allclose(contrib.sum(axis=1), logit(model.predict(data.test.features)), atol=1e-4)


@pytest.mark.parametrize("args, message", [
    (["--event", "refund"], "event"),
    (["--horizon", "0"], "horizon_days"),
    (["--model", "xgboost"], "unknown model(s) xgboost"),
    (["--test-cutoff", "2024-07-01"], "data ends before 2024-07-01"),
])
def test_train_command_explains_bad_input(shop_settings, args, message):
    from typer.testing import CliRunner

    from assistant.cli import app

    overrides = ["--set", f"warehouse_dir={shop_settings.warehouse_dir}", "--set", "shop=rand",
                 "--set", f"artifacts_dir={shop_settings.artifacts_dir}"]
    result = CliRunner().invoke(app, [*overrides, "train", "behavior", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
