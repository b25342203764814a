"""Gradio operator console: the assistant with streamed answers and collapsible tool steps,
charts of tool results, a user look-up panel, the support desk's Inbox (``ui/inbox.py``) and
the model registry with the last drift reports, read-only (``ui/models_view.py``).
Login is the operator token (see assistant/serve.py, which mounts it).

Charts: a tool result with ``"chart": {"kind": "bar" | "line", "title", "x": [...], "y": [...]}``
(query_segment's group table, a propensity-vs-population histogram, an uplift plan's Qini
curve, ...) is drawn next to the conversation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
import pandas as pd

from assistant.agent import AgentEvent
from assistant.api.service import ChatService, ModelUnavailableError
from knowledge.customer_records import demo_customer
from ui.inbox import build_inbox
from ui.models_view import build_models_view
from ui.records import customer_record, pretty


def chart_frame(result: Any) -> tuple[pd.DataFrame, str, str] | None:
    """(data, kind, title) when a tool result carries chart data, else None."""
    chart = result.get("chart") if isinstance(result, dict) else None
    if not isinstance(chart, dict) or not chart.get("x") or len(chart["x"]) != len(
            chart.get("y") or []):
        return None
    kind = "line" if chart.get("kind") == "line" else "bar"
    xs = chart["x"] if kind == "line" else [str(x) for x in chart["x"]]
    return pd.DataFrame({"x": xs, "y": chart["y"]}), kind, chart.get("title", "")


def render_turn(history: list, events: Iterator[AgentEvent]) -> Iterator[tuple[list, Any, Any]]:
    """Fold a turn's events into chat messages (one collapsible step per tool call) and the
    updates of the bar and line charts."""
    steps: dict[str, gr.ChatMessage] = {}
    answer = gr.ChatMessage(role="assistant", content="")
    charts = {"bar": gr.update(), "line": gr.update()}
    shown = False
    for event in events:
        if event.type == "tool_call":
            steps[event.call_id] = gr.ChatMessage(
                role="assistant", content=f"arguments\n{pretty(event.args)}",
                metadata={"title": f"🛠 {event.name}", "status": "pending", "id": event.call_id})
            history.append(steps[event.call_id])
        elif event.type == "tool_result":
            step = steps.get(event.call_id)
            if step is not None:
                label = "error" if event.error else "result"
                step.content += f"\n{label}\n{pretty(event.result)}"
                step.metadata["status"] = "done"
                if event.error:
                    step.metadata["title"] += " (refused)"
            found = chart_frame(event.result)
            if found:
                frame, kind, title = found
                charts = {k: gr.update(visible=False) for k in charts}
                charts[kind] = gr.update(value=frame, title=title, visible=True)
        elif event.type in ("token", "final", "confirm"):
            answer.content = event.text if event.type == "final" else answer.content + event.text
            if not shown:
                history.append(answer)
                shown = True
        yield history, charts["bar"], charts["line"]


def examples(service: ChatService) -> list[str]:
    """One question per tool family, about a real customer of the shop when there is one."""
    customer = demo_customer(service.settings)
    user, order = (customer[1], customer[2]) if customer else ("USER_ID", "#ORDER_ID")
    return [f"How likely is user {user} to buy in the next 30 days?",
            f"Give me the profile of user {user}.",
            f"What should we recommend to user {user}?",
            "Whom should we send a coupon to with a budget of 1000?",
            "How many customers spent over 500 and have not bought for 90 days?",
            "What is the return policy?",
            f"What is the status of order {order}?"]


def build_console(service: ChatService) -> gr.Blocks:
    def respond(message: str, history: list, thread_id: str | None):
        if not message.strip():
            yield history, gr.update(), gr.update(), thread_id, ""
            return
        thread = service.thread_for("operator", thread_id, None)
        history = history + [gr.ChatMessage(role="user", content=message)]
        yield history, gr.update(), gr.update(), thread.thread_id, ""
        try:
            service.load_model()
        except ModelUnavailableError as err:
            yield history + [gr.ChatMessage(role="assistant", content=f"⚠ {err}")], \
                gr.update(), gr.update(), thread.thread_id, ""
            return
        for shown, bar, line in render_turn(history, service.stream(thread, message)):
            yield shown, bar, line, thread.thread_id, ""

    def look_up(user_id: str) -> tuple[str, str]:
        return customer_record(service, user_id)

    with gr.Blocks(title="shopmind console") as console:
        gr.Markdown("## shopmind operator console")
        thread_id = gr.State(None)
        with gr.Tab("Assistant"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="conversation", height=520, elem_id="chat")
                    box = gr.Textbox(placeholder="Ask about users, segments, campaigns, orders…",
                                     show_label=False, elem_id="ask")
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary", elem_id="ask-button")
                        new = gr.Button("New conversation")
                with gr.Column(scale=2):
                    bar = gr.BarPlot(x="x", y="y", visible=False, label="chart", height=360)
                    line = gr.LinePlot(x="x", y="y", visible=False, label="chart", height=360)
            gr.Examples(examples(service), inputs=box)
            for trigger in (box.submit, send.click):
                trigger(respond, [box, chat, thread_id], [chat, bar, line, thread_id, box])
            new.click(lambda: ([], None, gr.update(visible=False), gr.update(visible=False)),
                      None, [chat, thread_id, bar, line])
        with gr.Tab("User look-up"):
            user = gr.Textbox(label="user id", elem_id="lookup-user")
            go = gr.Button("Look up")
            with gr.Row():
                profile = gr.Markdown(label="profile")
                details = gr.Markdown(label="customer-service record")
            for trigger in (user.submit, go.click):
                trigger(look_up, user, [profile, details])
        with gr.Tab("Inbox"):
            build_inbox(service)
        with gr.Tab("Models") as models:
            build_models_view(service.settings, models)
    return console
