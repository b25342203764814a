"""The held-out evaluation sets (bench/heldout.py) are well-formed against the tool contract.

One subprocess generates set 1 and set 2 twice with the same seed (they must be identical) and
once without the datasets (set 1 falls back to generated entities, set 2 is not written); the
checks then read the files: every case parses as an evaluation ``Case``, expected tools exist for
the case's role, argument names and values fit the tool's input model, and Chinese cases exist.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.toolcall_eval import Case, read_cases
from knowledge.segment_sql import SegmentFilters
from tools.registry import ToolSpec, role_specs

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO / ".." / "shared" / "datasets").resolve()
SEED = 3
KINDS = {"coverage", "words", "ids", "multi_intent", "follow_up", "error_recovery", "no_call",
         "typos", "zh"}
SOURCES = {"abcd_guidelines_ontology", "amazon_qa_appliances", "bitext_customer_service_intents",
           "tau2_bench_retail"}
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"\{[a-z][a-z0-9_]*\}")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("heldout")
    runs = [("a", DATA), ("b", DATA), ("bare", root / "no-datasets")]
    calls = "; ".join(
        f"main(['--out', {str(root / name)!r}, '--seed', '{SEED}', '--data-dir', "
        f"{str(data)!r}, '--shop-db', {str(root / 'none.duckdb')!r}])" for name, data in runs)
    subprocess.run([sys.executable, "-c", f"from bench.heldout import main; {calls}"],
                   cwd=REPO, check=True, capture_output=True, text=True, timeout=120)
    return root


def _specs(role: str) -> dict[str, ToolSpec]:
    return {spec.name: spec for spec in role_specs(role)}


def _dummy(schema: dict[str, Any]) -> Any:
    """A valid stand-in for a required argument the case does not expect."""
    if "enum" in schema:
        return schema["enum"][0]
    return {"array": ["x"], "integer": 1, "number": 1.0}.get(schema.get("type"), "x")


def _check_call(role: str, call: dict[str, Any], where: str) -> None:
    specs = _specs(role)
    name, args = call["name"], call.get("arguments", {})
    assert name in specs, f"{where}: {name!r} is not a {role} tool"
    model = specs[name].input_model
    assert set(args) <= set(model.model_fields), f"{where}: unknown arguments {set(args)}"
    for key in ("filters", "segment"):
        if isinstance(args.get(key), dict):
            unknown = set(args[key]) - set(SegmentFilters.model_fields)
            assert not unknown, f"{where}: unknown filter keys {unknown}"
    # Values (enums, ranges, types): validate with stand-ins for required arguments left out.
    schema = specs[name].openai_schema()["function"]["parameters"]
    full = dict(args)
    for required in schema.get("required", []):
        full.setdefault(required, _dummy(schema["properties"][required]))
    model.model_validate(full)


def _check_file(path: Path) -> list[Case]:
    cases = read_cases(path)
    assert len({c.id for c in cases}) == len(cases), "duplicate case ids"
    for case in cases:
        where = f"{path.name}:{case.id}"
        assert case.role in ("operator", "customer"), where
        assert case.kind, where
        assert len(case.expected) <= 1, where
        for call in case.expected:
            _check_call(case.role, call, where)
        names = {spec.name for spec in role_specs(case.role)}
        call_ids = set()
        assert case.messages[-1]["role"] in ("user", "tool"), where
        for message in case.messages:
            assert message["role"] in ("system", "user", "assistant", "tool"), where
            assert not PLACEHOLDER.search(message.get("content") or ""), where
            for call in message.get("tool_calls", []):
                assert call["function"]["name"] in names, where
                assert isinstance(call["function"]["arguments"], dict), where
                call_ids.add(call["id"])
            if message["role"] == "tool":
                assert message["tool_call_id"] in call_ids, where
    return cases


def test_other_author_set(generated: Path) -> None:
    cases = _check_file(generated / "a" / "other_author.jsonl")
    assert 250 <= len(cases) <= 350
    kinds = {c.kind.split(":")[0] for c in cases}
    assert KINDS <= kinds, f"missing kinds: {KINDS - kinds}"
    chinese = [c for c in cases if c.kind.startswith("zh")]
    assert len(chinese) >= 60
    assert all(CJK.search(json.dumps(c.messages, ensure_ascii=False)) for c in chinese)
    for role in ("operator", "customer"):
        assert any(c.role == role and c.expected for c in chinese)
        assert any(c.role == role and not c.expected for c in cases)


def test_other_author_without_datasets(generated: Path) -> None:
    cases = _check_file(generated / "bare" / "other_author.jsonl")
    assert 250 <= len(cases) <= 350
    assert not (generated / "bare" / "real_utterances.jsonl").exists()


def test_same_seed_same_cases(generated: Path) -> None:
    for name in ("other_author.jsonl", "real_utterances.jsonl"):
        first, second = generated / "a" / name, generated / "b" / name
        if first.exists():
            assert first.read_bytes() == second.read_bytes(), name


def test_real_utterances_set(generated: Path) -> None:
    if not DATA.is_dir():
        pytest.skip("../shared/datasets is not beside the repository: set 2 needs its sources")
    cases = _check_file(generated / "a" / "real_utterances.jsonl")
    assert 150 <= len(cases) <= 250
    assert {c.kind.split(":")[0] for c in cases} == SOURCES
    assert all(c.role == "customer" for c in cases)
