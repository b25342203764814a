"""The dialog format: template rendering, tool tokens, Hermes parsing, assistant-only mask."""

from __future__ import annotations

import json

import pytest

from finetune.dialog.format import TOOL_TOKENS, parse_hermes
from tests.dialog_samples import DIALOG, TOOLS


@pytest.fixture(scope="module")
def tokenizer(tiny_dialog_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dialog_model)


def test_tool_tokens_are_single_ids_that_survive_skip_special(tokenizer):
    for token in TOOL_TOKENS:
        ids = tokenizer(token, add_special_tokens=False).input_ids
        assert len(ids) == 1
        assert tokenizer.decode(ids, skip_special_tokens=True) == token


def test_template_lists_tools_compactly_with_optional_marks(tokenizer):
    text = tokenizer.apply_chat_template(DIALOG[:1], tools=TOOLS, tokenize=False,
                                         add_generation_prompt=True)
    assert "- get_order_details(order_id: string): Get an order\n" in text
    assert 'predict_behavior(user_id: string, event?: "purchase"|"churn", ' \
           "horizon_days?: integer)" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_template_renders_hermes_calls_and_tool_responses(tokenizer):
    text = tokenizer.apply_chat_template(DIALOG, tools=TOOLS, tokenize=False)
    assert ('<|im_start|>assistant\n<tool_call>{"name": "get_order_details", "arguments": '
            '{"order_id": "#W1"}}</tool_call><|im_end|>\n') in text
    assert '<|im_start|>tool\n<tool_response>{"status": "pending"}</tool_response>' in text
    dict_args = [dict(DIALOG[1], tool_calls=[{"function": {"name": "get_order_details",
                                                           "arguments": {"order_id": "#W1"}}}])]
    assert '"arguments": {"order_id": "#W1"}}' in tokenizer.apply_chat_template(
        dict_args, tokenize=False)


def test_assistant_mask_covers_only_assistant_replies_and_their_end(tokenizer):
    out = tokenizer.apply_chat_template(DIALOG, tools=TOOLS, return_dict=True,
                                        return_assistant_tokens_mask=True)
    kept = [t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tokenizer.decode(kept) == ('<tool_call>{"name": "get_order_details", "arguments": '
                                      '{"order_id": "#W1"}}</tool_call><|im_end|>'
                                      "It is pending.<|im_end|>")


def test_parse_hermes_splits_content_and_calls():
    reply = parse_hermes('Let me look. <tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>'
                         '<tool_call>{"name": "b", "arguments": "{\\"y\\": 2}"}</tool_call>')
    assert reply.content == "Let me look."
    assert [(c.name, c.arguments) for c in reply.calls] == [("a", {"x": 1}), ("b", {"y": 2})]
    calls = reply.openai_tool_calls()
    assert json.loads(calls[1]["function"]["arguments"]) == {"y": 2}


def test_parse_hermes_keeps_invalid_json_apart_and_reads_unterminated_call():
    reply = parse_hermes('<tool_call>{"name": "a", "arguments": {</tool_call>')
    assert reply.calls == [] and reply.invalid == ['{"name": "a", "arguments": {']
    assert parse_hermes('<tool_call>{"name": "a", "arguments": {}}').calls[0].name == "a"
    assert parse_hermes("just text<|im_end|>").content == "just text"
