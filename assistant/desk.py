"""The customer-service desk: who answers a customer thread (the assistant or a person), the
queue of customers waiting for a person, and what operators do with a thread.

A customer thread's status (``store.ThreadStatus``) moves like this:

    bot --(the customer asks, or the model calls transfer_to_human_agents)--> waiting_for_human
    bot | waiting_for_human --(an operator takes it)--> human
    waiting_for_human | human --(hand back)--> bot
    bot | waiting_for_human | human --(resolve)--> resolved
    resolved --(the customer writes again: bot; asks for a person: waiting_for_human)

While a thread is waiting_for_human or human (``store.HELD``) the agent stores the customer's
messages and does not call the model (``Agent.stream``); operators answer with ``reply``. A
write action stays under the customer's rule: ``approve`` runs only an action the customer
confirmed with an explicit yes. Every change is audited and sent to the handoff webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, Field

from assistant.agent import AgentEvent, describe_action
from assistant.customer_reply import apologies
from assistant.store import HELD, Store, Thread, ThreadStatus
from assistant.webhook import HandoffWebhook

INBOX: tuple[ThreadStatus, ...] = HELD  # what the operators' inbox shows by default


class DeskStateError(RuntimeError):
    """The thread's status does not allow this now (HTTP 409); the message says what would."""


class DeskStatus(BaseModel):
    """Where a customer thread stands at the desk."""

    thread_id: str
    status: ThreadStatus
    assignee: str | None = Field(None, description="The operator holding the thread.")
    summary: str | None = Field(None, description="Why it was handed to a person.")
    position: int | None = Field(None, description="Place in the queue (1 = next) while waiting.")
    notice: str = Field("", description="What the customer reads about it.")


class ApprovalResult(BaseModel):
    status: DeskStatus
    events: list[AgentEvent]
    customer_message: str = Field(description="What the customer was told, as from the operator.")


@cache
def notices() -> dict[str, str]:
    return yaml.safe_load(resources.files("assistant").joinpath(
        "prompts/desk_notices.yaml").read_text())


class Desk:
    """Status changes of customer threads; the store is the single source of truth."""

    def __init__(self, store: Store, webhook: HandoffWebhook):
        self.store, self.webhook = store, webhook

    # -- reading ------------------------------------------------------------------------------
    def customer_thread(self, thread_id: str) -> Thread:
        """A customer thread (KeyError when unknown; DeskStateError for an operator's own)."""
        thread = self.store.thread(thread_id)
        if thread.role != "customer":
            raise DeskStateError("only customer threads go through the desk; this is an "
                                 "operator's own conversation")
        return thread

    def status(self, thread: Thread) -> DeskStatus:
        position = self.store.queue_position(thread.thread_id) \
            if thread.status == "waiting_for_human" else None
        return DeskStatus(thread_id=thread.thread_id, status=thread.status,
                          assignee=thread.assignee, summary=thread.summary, position=position,
                          notice=self.notice(thread, position))

    def notice(self, thread: Thread, position: int | None = None) -> str:
        if thread.status == "waiting_for_human":
            position = position or self.store.queue_position(thread.thread_id) or 1
            return notices()["waiting"].format(position=position)
        if thread.status == "human":
            return notices()["human"].format(operator=thread.assignee or "someone")
        return ""

    # -- the customer's side ------------------------------------------------------------------
    def request(self, thread_id: str, by: str, summary: str | None = None) -> DeskStatus:
        """The customer (the widget's button) or the model asks for a person. Asking again
        while waiting or held changes nothing."""
        thread = self.customer_thread(thread_id)
        if thread.status not in HELD:
            self._move(thread, "waiting_for_human", ("bot", "resolved"), None,
                       "handoff.requested", by=by, summary=summary)
        return self.status(self.store.thread(thread_id))

    def customer_wrote(self, thread: Thread, text: str) -> Thread:
        """Called by the agent for each customer message before a turn: reopens a resolved
        thread, and tells the helpdesk what a customer waiting for a person wrote."""
        if thread.status == "resolved":
            self._move(thread, "bot", ("resolved",), None, "handoff.reopened", by="customer")
            return self.store.thread(thread.thread_id)
        if thread.status in HELD:
            self.webhook.emit("handoff.customer_message", thread.thread_id,
                              customer_id=thread.customer_id, status=thread.status, text=text)
        return thread

    # -- the operators' side ------------------------------------------------------------------
    def take(self, thread_id: str, operator: str) -> DeskStatus:
        thread = self.customer_thread(thread_id)
        if thread.status == "human" and thread.assignee == operator:
            return self.status(thread)
        if thread.status == "human":
            raise DeskStateError(f"{thread.assignee} already holds this thread; they hand it "
                                 "back first")
        self._refuse_resolved(thread, "take it")
        self._move(thread, "human", ("bot", "waiting_for_human"), operator, "handoff.taken",
                   by=operator)
        return self.status(self.store.thread(thread_id))

    def reply(self, thread_id: str, operator: str, text: str) -> int:
        """An operator's message to the customer, stored as written by a person."""
        self._held_by_a_person(thread_id, "reply")
        message_id = self.store.add_message(thread_id, "assistant", text, author=operator)
        self.store.audit(thread_id, "operator_reply", {"operator": operator, "text": text})
        return message_id

    def hand_back(self, thread_id: str, operator: str) -> DeskStatus:
        thread = self.customer_thread(thread_id)
        self._refuse_resolved(thread, "hand it back")
        if thread.status == "bot":
            raise DeskStateError("the assistant already answers this thread")
        self._move(thread, "bot", HELD, None, "handoff.handed_back", by=operator)
        self.store.add_message(thread_id, "assistant", notices()["handed_back"], author=operator)
        return self.status(self.store.thread(thread_id))

    def resolve(self, thread_id: str, operator: str) -> DeskStatus:
        thread = self.customer_thread(thread_id)
        self._refuse_resolved(thread, "resolve it")
        self._move(thread, "resolved", ("bot", *HELD), None, "handoff.resolved", by=operator)
        self.store.add_message(thread_id, "assistant", notices()["resolved"], author=operator)
        return self.status(self.store.thread(thread_id))

    def approve(self, thread_id: str, operator: str,
                run: Callable[[str], list[AgentEvent]]) -> ApprovalResult:
        """Run the held write action the customer confirmed (``run``: the agent runs exactly
        it, in the customer's scope). An action the customer has not confirmed never runs."""
        thread = self._held_by_a_person(thread_id, "approve an action")
        if not thread.pending:
            raise DeskStateError("no write action is waiting in this thread")
        if not thread.pending.get("confirmed"):
            raise DeskStateError("the customer has not confirmed this action: it runs only after "
                                 "their explicit yes in the conversation")
        self.store.audit(thread_id, "operator_approved", {"operator": operator,
                                                          "action": thread.pending})
        events = run(thread_id)
        failed = next((e for e in events if e.type == "tool_result" and e.error), None)
        text = apologies().reply(str(failed.result)) if failed else apologies().done.format(
            action=describe_action(thread.pending["name"], thread.pending["args"]))
        self.store.add_message(thread_id, "assistant", text, author=operator)
        return ApprovalResult(status=self.status(self.store.thread(thread_id)), events=events,
                              customer_message=text)

    # -- helpers ------------------------------------------------------------------------------
    def _held_by_a_person(self, thread_id: str, what: str) -> Thread:
        thread = self.customer_thread(thread_id)
        self._refuse_resolved(thread, what)
        if thread.status != "human":
            raise DeskStateError(f"take the thread first (POST /v1/threads/{thread_id}/take) to "
                                 f"{what}; it is {thread.status}")
        return thread

    @staticmethod
    def _refuse_resolved(thread: Thread, what: str) -> None:
        if thread.status == "resolved":
            raise DeskStateError(f"the thread is resolved: you cannot {what}; the customer's next "
                                 "message reopens it")

    def _move(self, thread: Thread, to: ThreadStatus, allowed_from: tuple[str, ...],
              assignee: str | None, event: str, by: str, summary: str | None = None) -> None:
        if not self.store.set_status(thread.thread_id, to, allowed_from=allowed_from,
                                     assignee=assignee, summary=summary):
            now = self.store.thread(thread.thread_id).status
            raise DeskStateError(f"the thread changed meanwhile (it is {now} now); reload it")
        self.store.audit(thread.thread_id, event, {"by": by, "from": thread.status, "to": to,
                                                   "summary": summary})
        self.webhook.emit(event, thread.thread_id, customer_id=thread.customer_id,
                          status=to, previous=thread.status, by=by, summary=summary)
