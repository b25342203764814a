"""Request and response bodies of the REST API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from assistant.agent import AgentEvent
from assistant.desk import DeskStatus
from assistant.store import StoredMessage, ThreadStatus, ThreadSummary


# (the dialog model's own request is another class: assistant.backends.types.ChatRequest)
class ChatTurnRequest(BaseModel):
    """One turn of a conversation: what the user says, and in which thread."""

    message: str = Field(min_length=1, max_length=4000, description="What the user says.")
    thread_id: str | None = Field(
        None, description="Continue this conversation (operators); customers always talk in "
        "the thread of their session. Empty = start a new operator conversation.")


class ChatResponse(BaseModel):
    thread_id: str
    answer: str
    events: list[AgentEvent]
    awaiting_confirmation: dict | None = Field(
        None, description="The write action waiting for the customer's 'yes', if any.")


class SessionRequest(BaseModel):
    customer_id: str | None = Field(
        None, min_length=1, max_length=200,
        description="Bind the session to this customer now: with the operator token (a shop "
        "backend, server to server) or with `signature` (the widget of a signed-in customer). "
        "Empty = they authenticate in the chat.")
    signature: str | None = Field(
        None, min_length=1, max_length=200,
        description="Hex HMAC-SHA256(customer_signing_secret, customer_id), computed by the "
        "shop's backend (docs/desk.md). A wrong one binds nothing (403).")


class SessionResponse(BaseModel):
    session: str = Field(description="Signed customer session: send it as the X-Session header.")
    thread_id: str


class ThreadResponse(BaseModel):
    thread_id: str
    role: Literal["operator", "customer"]
    customer_id: str | None
    awaiting_confirmation: dict | None
    status: ThreadStatus = Field(description="Who answers: bot, waiting_for_human, human, "
                                 "resolved (customer threads; operators' own stay bot).")
    assignee: str | None = None
    messages: list[StoredMessage] = Field(
        description="Messages with `author` set were written by a person (an operator). "
        "Operators get every message, tool call and result; a customer gets what the widget "
        "showed them: their messages and the replies as they read them (no tool steps).")


class ThreadList(BaseModel):
    threads: list[ThreadSummary]


class OperatorAction(BaseModel):
    operator: str = Field("operator", min_length=1, max_length=80,
                          description="Who does it, as the customer and the audit log see it.")


class OperatorReply(OperatorAction):
    message: str = Field(min_length=1, max_length=4000, description="What the customer reads.")


class ThreadUpdate(BaseModel):
    """One event of GET /v1/threads/{id}/updates."""

    type: Literal["status", "message"]
    cursor: int = Field(description="The last message id seen: send it as `after` to resume.")
    desk: DeskStatus | None = None
    message: StoredMessage | None = None


class BehaviourEvent(BaseModel):
    user_id: str | None = Field(
        None, min_length=1, max_length=200,
        description="Operators: required. Customer sessions: leave out (their signed-in customer).")
    product_id: str = Field(min_length=1, max_length=200)
    event_type: Literal["view", "click", "cart", "fav", "purchase"]
    ts: datetime | None = Field(None, description="When it happened; default now (UTC).")
    session_id: str | None = Field(None, max_length=200)
    quantity: int | None = Field(None, ge=1, description="Purchases only.")
    price: float | None = Field(None, ge=0, description="Purchases only: unit price paid.")


class EventAccepted(BaseModel):
    stored: Literal[True] = True
    user_id: str
    product_id: str
    category: str | None


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    shop: str
    warehouse: bool = Field(description="The active shop's warehouse file exists.")
    model: str = Field(description="Dialog backend: an endpoint URL or the in-process model.")
