"""The console's Inbox: customers waiting for a person and the threads people hold, newest
first; a thread's conversation (tool steps collapsed), the customer's profile and orders beside
it, a reply box, and take / approve / hand back / resolve (``ChatService``, assistant/desk.py).
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from assistant.api.service import ChatService
from assistant.desk import INBOX, DeskStateError
from assistant.store import StoredMessage
from tools.registry import ToolError
from ui.records import customer_record, pretty

COLUMNS = ["thread", "status", "customer", "held by", "last activity", "last message"]
REFRESH_S = 5


def inbox_rows(service: ChatService) -> pd.DataFrame:
    rows = [[t.thread_id, t.status, t.customer_id or "(anonymous)", t.assignee or "",
             t.last_at[:19].replace("T", " "), t.last_message[:80]]
            for t in service.store.threads_by_status(INBOX)]
    return pd.DataFrame(rows, columns=COLUMNS)


def conversation(messages: list[StoredMessage]) -> list[gr.ChatMessage]:
    """The thread as the operator reads it: the customer, the assistant, what a person wrote
    (named), and each tool call with its result as one collapsed step."""
    shown: list[gr.ChatMessage] = []
    steps: dict[str, gr.ChatMessage] = {}
    for m in messages:
        if m.role == "user":
            shown.append(gr.ChatMessage(role="user", content=m.content))
        elif m.role == "tool":
            step = steps.get(m.tool_call_id or "")
            if step is not None:
                step.content += f"\n{'error' if m.status == 'error' else 'result'}\n" \
                    f"{pretty(m.content)}"
        else:
            for c in m.tool_calls or []:
                steps[c["id"]] = gr.ChatMessage(
                    role="assistant", content=f"arguments\n{pretty(c['args'])}",
                    metadata={"title": f"🛠 {c['name']}", "status": "done", "id": c["id"]})
                shown.append(steps[c["id"]])
            if m.content:
                shown.append(gr.ChatMessage(role="assistant", content=as_written(m)))
    return shown


def as_written(m: StoredMessage) -> str:
    """An assistant message: named when a person wrote it; a model's answer says when the
    customer read something else (a polite reply), or nothing (withheld because a person took
    the thread while it was written, or only the confirmation question was shown)."""
    if m.author:
        return f"**👤 {m.author} (person):** {m.content}"
    if m.tool_calls or m.shown == m.content:
        return m.content
    if not m.shown:
        return f"{m.content}\n\n*(not sent to the customer)*"
    return f"{m.content}\n\n*(the customer read instead: {m.shown})*"


def thread_panel(service: ChatService, thread_id: str | None) -> tuple[list, str]:
    """(conversation, status line) of a thread; cheap enough to refresh every few seconds."""
    if not thread_id:
        return [], "Pick a thread in the table."
    try:
        desk = service.desk_status(thread_id)
    except (KeyError, DeskStateError) as err:
        return [], f"⚠ {err}"
    thread = service.store.thread(thread_id)
    line = f"**{desk.status}**" + (f" · held by {desk.assignee}" if desk.assignee else "") + \
        (f" · number {desk.position} in line" if desk.position else "") + \
        (f" · summary: {desk.summary}" if desk.summary else "")
    if thread.pending:
        confirmed = "confirmed by the customer" if thread.pending.get("confirmed") else \
            "not confirmed by the customer yet"
        line += f"\n\nHeld action: `{thread.pending['name']}` ({confirmed})"
    return conversation(service.store.messages(thread_id)), line


def customer_panels(service: ChatService, thread_id: str | None) -> tuple[str, str]:
    """(profile, customer-service record) of the thread's customer, read when a thread is
    picked (not on every refresh: the profile is a warehouse query)."""
    try:
        customer = service.store.thread(thread_id).customer_id if thread_id else None
    except KeyError:
        customer = None
    if customer is None:
        return "The customer has not signed in.", ""
    return customer_record(service, customer)


def act(service: ChatService, action: str, thread_id: str | None, operator: str,
        text: str = "") -> str:
    """Run one desk action; returns what to tell the operator ("" when it worked)."""
    if not thread_id:
        return "Pick a thread first."
    operator = operator.strip() or "operator"
    try:
        if action == "take":
            service.take(thread_id, operator)
        elif action == "reply":
            if not text.strip():
                return "Write a reply first."
            service.reply(thread_id, operator, text.strip())
        elif action == "approve":
            service.approve(thread_id, operator)
        elif action == "hand back":
            service.hand_back(thread_id, operator)
        elif action == "resolve":
            service.resolve(thread_id, operator)
    except (DeskStateError, ToolError, KeyError) as err:  # the sentence says what would work
        return str(err)
    return ""


def build_inbox(service: ChatService) -> None:
    """The Inbox tab's components and events (inside a ``gr.Tab``)."""
    selected = gr.State(None)
    with gr.Row():
        operator = gr.Textbox("operator", label="your name (the customer sees it)", scale=1)
        refresh = gr.Button("Refresh", scale=0)
    table = gr.Dataframe(inbox_rows(service), headers=COLUMNS, interactive=False,
                         label="waiting and open threads, newest first", elem_id="inbox-table")
    with gr.Row():
        with gr.Column(scale=3):
            status = gr.Markdown("Pick a thread in the table.", elem_id="inbox-status")
            chat = gr.Chatbot(label="conversation", height=420, elem_id="inbox-chat")
            reply = gr.Textbox(placeholder="Reply to the customer…", show_label=False,
                               elem_id="inbox-reply")
            with gr.Row():
                send = gr.Button("Send", variant="primary", elem_id="inbox-send")
                take = gr.Button("Take", elem_id="inbox-take")
                approve = gr.Button("Approve held action", elem_id="inbox-approve")
                back = gr.Button("Hand back to the assistant", elem_id="inbox-hand-back")
                resolve = gr.Button("Resolve", elem_id="inbox-resolve")
        with gr.Column(scale=2):
            profile = gr.Markdown(label="profile")
            record = gr.Markdown(label="orders")

    def show(thread_id: str | None):
        return (inbox_rows(service), *thread_panel(service, thread_id))

    def pick(evt: gr.SelectData):
        thread_id = evt.row_value[0] if evt.row_value else None
        return (thread_id, *thread_panel(service, thread_id),
                *customer_panels(service, thread_id))

    def do(action: str):
        def run(thread_id: str | None, name: str, text: str):
            problem = act(service, action, thread_id, name, text)
            if problem:
                gr.Warning(problem)
            return (*show(thread_id), text if problem else "")
        return run

    panel = [chat, status]
    table.select(pick, None, [selected, *panel, profile, record])
    refresh.click(show, selected, [table, *panel])
    gr.Timer(REFRESH_S).tick(show, selected, [table, *panel])
    for button, action in ((send, "reply"), (take, "take"), (approve, "approve"),
                           (back, "hand back"), (resolve, "resolve")):
        button.click(do(action), [selected, operator, reply], [table, *panel, reply])
    reply.submit(do("reply"), [selected, operator, reply], [table, *panel, reply])
