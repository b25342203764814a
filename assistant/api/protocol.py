"""Request and response bodies of the REST API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from assistant.agent import AgentEvent
from assistant.store import StoredMessage


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
        description="Bind the session to this customer now (needs the operator token: for a "
        "shop backend that has signed its customer in). Empty = they authenticate in the chat.")


class SessionResponse(BaseModel):
    session: str = Field(description="Signed customer session: send it as the X-Session header.")
    thread_id: str


class ThreadResponse(BaseModel):
    thread_id: str
    role: Literal["operator", "customer"]
    customer_id: str | None
    awaiting_confirmation: dict | None
    messages: list[StoredMessage]


class BehaviourEvent(BaseModel):
    user_id: str = Field(min_length=1, max_length=200)
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
