from pathlib import Path

import pytest

from knowledge.settings import Settings, SettingsError, load_settings, parse_overrides


def test_cli_override_beats_environment_beats_file(tmp_path, monkeypatch):
    config = tmp_path / "shopmind.yaml"
    config.write_text("seed: 1\nport: 9000\nshop: online_retail\n")
    monkeypatch.setenv("SHOPMIND_SEED", "2")
    monkeypatch.setenv("SHOPMIND_PORT", "9001")
    settings = load_settings(config, {"seed": "3"})
    assert settings.seed == 3
    assert settings.port == 9001
    assert settings.shop == "online_retail"


def test_warehouse_path_follows_shop_unless_set():
    assert Settings(shop="taobao", warehouse_dir=Path("w")).warehouse == Path("w/taobao.duckdb")
    assert Settings(warehouse_path=Path("x.duckdb")).warehouse == Path("x.duckdb")


def test_dialog_model_follows_the_preset_unless_set(monkeypatch):
    assert load_settings(None).dialog_model == "artifacts/dialog/full"
    assert load_settings(None, {"dialog_preset": "quick"}).dialog_model == "artifacts/dialog/quick"
    monkeypatch.setenv("SHOPMIND_DIALOG_PRESET", "quick")
    assert load_settings(None).dialog_model == "artifacts/dialog/quick"
    assert load_settings(None, {"dialog_model": "m"}).dialog_model == "m"
    with pytest.raises(SettingsError, match="dialog_preset"):
        load_settings(None, {"dialog_preset": "huge"})


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(SettingsError, match="unknown settings key.*sede"):
        load_settings(None, {"sede": "1"})


def test_bad_value_is_explained():
    with pytest.raises(SettingsError, match="port"):
        load_settings(None, {"port": "eighty"})


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(SettingsError, match="nope.yaml: settings file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_override_needs_key_and_value():
    with pytest.raises(SettingsError, match="KEY=VALUE"):
        parse_overrides(["seed"])


def test_every_setting_is_documented():
    assert all(field.description for field in Settings.model_fields.values())
