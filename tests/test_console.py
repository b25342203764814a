"""The operator console's rendering of a turn: tool steps, answer, charts (no browser needed)."""

from __future__ import annotations

from assistant.agent import AgentEvent
from ui.console import chart_frame, render_turn


def test_a_turn_becomes_a_collapsible_tool_step_an_answer_and_a_chart():
    chart = {"kind": "bar", "title": "users by country", "x": ["UK", "FR"], "y": [10, 3]}
    events = [AgentEvent(type="tool_call", name="query_segment", args={"question": "q"},
                         call_id="c1"),
              AgentEvent(type="tool_result", name="query_segment", call_id="c1",
                         result={"count": 13, "chart": chart}),
              AgentEvent(type="token", text="13 "), AgentEvent(type="token", text="users"),
              AgentEvent(type="final", text="13 users")]
    *_, (history, bar, line) = list(render_turn([], iter(events)))
    step, answer = history
    assert step.metadata["title"] == "🛠 query_segment" and step.metadata["status"] == "done"
    assert '"count": 13' in step.content and answer.content == "13 users"
    assert bar["visible"] and list(bar["value"]["x"]) == ["UK", "FR"] and not line["visible"]


def test_refused_tool_steps_are_labelled():
    events = [AgentEvent(type="tool_call", name="get_order_details", args={}, call_id="c1"),
              AgentEvent(type="tool_result", name="get_order_details", call_id="c1",
                         result="order not found", error=True),
              AgentEvent(type="final", text="sorry")]
    *_, (history, _, _) = list(render_turn([], iter(events)))
    assert history[0].metadata["title"].endswith("(refused)")


def test_results_without_chart_data_draw_nothing():
    assert chart_frame({"chart": {"x": [1, 2], "y": [1]}}) is None
    assert chart_frame("text") is None
    frame, kind, _ = chart_frame({"chart": {"kind": "line", "x": [0, 0.5, 1], "y": [0, .3, .4]}})
    assert kind == "line" and list(frame["x"]) == [0, 0.5, 1]


def test_examples_ask_about_a_real_customer_of_the_shop(small_shop):
    from types import SimpleNamespace

    from ui.console import examples

    questions = examples(SimpleNamespace(settings=small_shop))
    order = questions[-1].split()[-1].rstrip("?")
    assert order.startswith("#") and "USER_ID" not in " ".join(questions)
    missing = small_shop.model_copy(update={"warehouse_path": small_shop.warehouse_dir / "none"})
    assert "USER_ID" in examples(SimpleNamespace(settings=missing))[0]
