"""`shopmind eval toolcalls`: the DESIGN.md scoring rules and clear errors for bad files."""

from __future__ import annotations

import json

import pytest

from assistant.backends.types import ChatResult
from assistant.toolcall_eval import EvalFileError, args_match, evaluate_file, read_cases


def test_argument_normalisation_rules():
    assert args_match({"user_id": "17850", "horizon_days": 60},
                      {"user_id": " 17850 ", "horizon_days": 60.0, "event": "purchase"})
    assert args_match({"query": "Red Mug"}, {"query": "red mug"})
    assert args_match({"filters": {"country": "France"}},
                      {"filters": {"country": "france", "min_orders": 2}})
    assert not args_match({"user_id": "17850"}, {"user_id": "17851"})
    assert not args_match({"user_id": "17850"}, {})
    assert not args_match({"item_ids": ["1", "2"]}, {"item_ids": ["2", "1"]})


class Scripted:
    """Replies with fixed texts, parsed by the real Hermes parser (tests the scoring only)."""

    name = "scripted"

    def __init__(self, texts):
        from finetune.dialog.format import parse_hermes

        self.replies = [parse_hermes(t) for t in texts]

    def chat(self, request):
        reply = self.replies.pop(0)
        return ChatResult(content=reply.content, tool_calls=reply.openai_tool_calls(),
                          finish_reason="stop", prompt_tokens=1, completion_tokens=1,
                          invalid_tool_calls=reply.invalid)


def write(tmp_path, cases):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases))
    return path


CASES = [
    {"id": "a", "role": "operator", "messages": [{"role": "user", "content": "p 1?"}],
     "expected": [{"name": "predict_behavior", "arguments": {"user_id": "1"}}]},
    {"id": "b", "role": "operator", "messages": [{"role": "user", "content": "p 2?"}],
     "expected": [{"name": "predict_behavior", "arguments": {"user_id": "2"}}]},
    {"id": "c", "role": "operator", "messages": [{"role": "user", "content": "hi"}],
     "expected": []},
    {"id": "d", "role": "customer", "messages": [{"role": "user", "content": "order #W1?"}],
     "expected": [{"name": "get_order_details", "arguments": {"order_id": "#W1"}}]},
]


def test_scores_names_arguments_irrelevance_json_and_confusion(tmp_path):
    replies = [
        '<tool_call>{"name": "predict_behavior", "arguments": {"user_id": "1"}}</tool_call>',
        '<tool_call>{"name": "predict_behavior", "arguments": {"user_id": "9"}}</tool_call>',
        "Hello!",
        '<tool_call>{"name": "get_order_details", "arguments": {</tool_call>',
    ]
    summary = evaluate_file(write(tmp_path, CASES), Scripted(replies)).summary()
    assert summary["overall_accuracy"] == 0.5
    assert summary["tool_call_accuracy"] == pytest.approx(1 / 3, abs=1e-3)
    assert summary["tool_name_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert summary["argument_accuracy"] == 0.5
    assert summary["irrelevance_accuracy"] == 1.0
    assert summary["valid_json_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert summary["per_tool"]["predict_behavior"] == {"n": 2, "accuracy": 0.5}
    assert summary["confusion"] == {"get_order_details -> (invalid json)": 1}


def test_bad_files_name_the_line(tmp_path):
    with pytest.raises(EvalFileError, match="not found"):
        read_cases(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(CASES[0]) + "\n" + json.dumps({"id": "x", "messages": []}))
    with pytest.raises(EvalFileError, match=r"bad.jsonl:2: not a valid case"):
        read_cases(bad)


def test_cli_evaluates_a_model_folder(tiny_dialog_model, tmp_path):
    from typer.testing import CliRunner

    from assistant.cli import app

    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "toolcalls", str(write(tmp_path, CASES)),
                                      "--model", str(tiny_dialog_model), "--out", str(out),
                                      "--constrained"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert len(report["cases"]) == 4
    assert all(c["invalid_json"] == 0 for c in report["cases"])  # constrained: never invalid
    missing = CliRunner().invoke(app, ["eval", "toolcalls", str(tmp_path / "nope.jsonl"),
                                       "--model", str(tiny_dialog_model)])
    assert missing.exit_code != 0 and "not found" in missing.output


def test_arguments_count_as_the_tool_receives_them_and_the_stricter_score_is_kept(tmp_path):
    cases = [
        {"id": "words", "role": "operator", "messages": [{"role": "user", "content": "six weeks"}],
         "expected": [{"name": "predict_behavior",
                       "arguments": {"user_id": "17855", "horizon_days": 42}}]},
        {"id": "wrong", "role": "operator", "messages": [{"role": "user", "content": "x"}],
         "expected": [{"name": "predict_behavior",
                       "arguments": {"user_id": "17855", "horizon_days": 42}}]},
    ]
    call = '<tool_call>{"name": "predict_behavior", "arguments": %s}</tool_call>'
    replies = [call % '{"user_id": "#17855", "horizon_days": "six weeks"}',
               call % '{"user_id": "17856", "horizon_days": "six weeks"}']
    summary = evaluate_file(write(tmp_path, cases), Scripted(replies)).summary()
    assert summary["tool_call_accuracy"] == 0.5  # "#17855" is user 17855, six weeks is 42 days
    assert summary["tool_call_accuracy_as_written"] == 0.0
