"""Artifacts on disk (knowledge/artifacts.py): one meta.json writer with a UTC timestamp, and
folders replaced whole or not at all."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from knowledge.artifacts import replaced, utc_now, write_meta


def test_meta_json_gets_a_utc_iso_created_at_unless_it_has_one(tmp_path):
    meta = json.loads(write_meta(tmp_path, {"model": "x"}).read_text())
    assert meta["model"] == "x"
    assert datetime.fromisoformat(meta["created_at"]).utcoffset() == timedelta(0)
    assert len(meta["created_at"]) == len(utc_now())  # fixed width: sorts in time order
    kept = json.loads(write_meta(tmp_path, {"created_at": "then"}).read_text())
    assert kept == {"created_at": "then"} and [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_a_folder_is_swapped_in_whole_and_a_failed_build_changes_nothing(tmp_path):
    folder = tmp_path / "model"
    with replaced(folder) as staging:
        staging.mkdir()
        (staging / "weights").write_text("v1")
    with pytest.raises(RuntimeError), replaced(folder) as staging:
        staging.mkdir()
        (staging / "weights").write_text("half of v2")
        raise RuntimeError("crash half-way")
    assert (folder / "weights").read_text() == "v1"
    with replaced(folder) as staging:
        staging.mkdir()
        (staging / "weights").write_text("v2")
    assert [p.name for p in folder.iterdir()] == ["weights"]
    assert (folder / "weights").read_text() == "v2"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging or old copy left
