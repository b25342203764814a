"""Thin FastAPI routers: authenticate, validate, call the service, return JSON or an SSE stream.

Operators send ``Authorization: Bearer <operator token>``; customers get a signed session from
``POST /v1/sessions`` and send it as ``X-Session``. Requests are rate-limited per client (the
token or session, else the IP address).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from slowapi import Limiter
from slowapi.util import get_remote_address
from sse_starlette.sse import EventSourceResponse

from assistant.api.protocol import (
    BehaviourEvent,
    ChatResponse,
    ChatTurnRequest,
    EventAccepted,
    Health,
    SessionRequest,
    SessionResponse,
    ThreadResponse,
)
from assistant.api.service import (
    AccessError,
    ChatService,
    ModelUnavailableError,
    TooManyEventsError,
)
from assistant.store import Thread

CHAT_LIMIT = "60/minute"
DEFAULT_LIMIT = "300/minute"


def client_key(request: Request) -> str:
    return (request.headers.get("x-session") or request.headers.get("authorization")
            or get_remote_address(request))


limiter = Limiter(key_func=client_key, default_limits=[DEFAULT_LIMIT])
router = APIRouter()


@dataclass
class Caller:
    role: str
    thread: Thread | None = None  # customers: the thread of their session


def service(request: Request) -> ChatService:
    return request.app.state.service


def caller(request: Request, authorization: Annotated[str | None, Header()] = None,
           x_session: Annotated[str | None, Header()] = None) -> Caller:
    svc = service(request)
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not svc.is_operator(token.strip()):
            raise HTTPException(401, "invalid operator token (send 'Authorization: Bearer "
                                     "<token>'; the token is printed by `shopmind serve`)")
        return Caller("operator")
    if x_session:
        try:
            return Caller("customer", svc.customer_thread(x_session))
        except (AccessError, KeyError) as err:
            raise HTTPException(401, str(err)) from err
    raise HTTPException(401, "not authenticated: operators send 'Authorization: Bearer <token>',"
                             " customers send 'X-Session: <session>' from POST /v1/sessions")


Who = Annotated[Caller, Depends(caller)]


def operator(who: Who) -> Caller:
    if who.role != "operator":
        raise HTTPException(403, "this endpoint needs the operator token")
    return who


@router.get("/health", response_model=Health, tags=["service"])
def health(request: Request) -> Health:
    svc = service(request)
    return Health(shop=svc.settings.shop, warehouse=svc.settings.warehouse.is_file(),
                  model=svc.backend_name())


@router.post("/v1/sessions", response_model=SessionResponse, tags=["chat"])
@limiter.limit("20/minute")
def new_session(request: Request, body: SessionRequest | None = None,
                authorization: Annotated[str | None, Header()] = None) -> SessionResponse:
    """Start a customer conversation. The widget calls it without a body: the customer then
    authenticates in the chat (email, or name and zip code). A shop backend that has already
    signed its customer in sends `customer_id` with the operator token instead, and the widget
    of a signed-in customer sends `customer_id` with the `signature` the shop's backend made."""
    svc = service(request)
    customer_id = body.customer_id if body else None
    token = (authorization or "").partition(" ")[2].strip()
    try:
        if customer_id is not None and svc.is_operator(token):
            session, thread = svc.new_customer_session(customer_id)
        elif customer_id is not None and body.signature:
            session, thread = svc.verified_session(customer_id, body.signature)
        elif customer_id is not None:
            raise HTTPException(403, "binding a session to a customer_id needs the operator token "
                                     "or the shop's signature of the id")
        else:
            session, thread = svc.new_customer_session(None)
    except AccessError as err:
        raise HTTPException(403, str(err)) from err
    except LookupError as err:
        raise HTTPException(404, str(err)) from err
    return SessionResponse(session=session, thread_id=thread.thread_id)


def _thread(request: Request, who: Caller, thread_id: str | None) -> Thread:
    """The caller's thread, once the dialog model is known to be ready."""
    try:
        service(request).load_model()
    except ModelUnavailableError as err:
        raise HTTPException(503, str(err)) from err
    try:
        return service(request).thread_for(who.role, thread_id, who.thread)
    except AccessError as err:
        raise HTTPException(403, str(err)) from err
    except KeyError as err:
        raise HTTPException(404, str(err)) from err


@router.post("/v1/chat", response_model=ChatResponse, tags=["chat"])
@limiter.limit(CHAT_LIMIT)
def chat(request: Request, body: ChatTurnRequest, who: Who) -> ChatResponse:
    """One turn of a conversation; the whole answer with its tool calls as JSON."""
    return service(request).chat(_thread(request, who, body.thread_id), body.message)


@router.post("/v1/chat/stream", tags=["chat"])
@limiter.limit(CHAT_LIMIT)
def chat_stream(request: Request, body: ChatTurnRequest,
                who: Who) -> EventSourceResponse:
    """The same turn as Server-Sent Events: `token`, `tool_call`, `tool_result`, `confirm`,
    then `final` (data = the event as JSON)."""
    thread = _thread(request, who, body.thread_id)
    events = service(request).stream(thread, body.message)
    return EventSourceResponse(
        {"event": e.type, "data": json.dumps(e.model_dump(mode="json") | {
            "thread_id": thread.thread_id})} for e in events)


@router.get("/v1/threads/{thread_id}", response_model=ThreadResponse, tags=["chat"])
def get_thread(request: Request, thread_id: str, who: Who) -> ThreadResponse:
    """A conversation. Operators: every message, tool call and result. Customers: their own
    thread only, as the widget showed it (their messages, the assistant's replies as they read
    them, people's replies with `author`; no tool steps or errors)."""
    svc = service(request)
    if who.role == "customer" and thread_id != who.thread.thread_id:
        raise HTTPException(403, "a customer session can only read its own thread")
    try:
        return svc.thread_view(svc.store.thread(thread_id), customer=who.role == "customer")
    except KeyError as err:
        raise HTTPException(404, str(err)) from err


@router.post("/v1/events", response_model=EventAccepted, tags=["data"])
def ingest_event(request: Request, event: BehaviourEvent, who: Who) -> EventAccepted:
    """Record a behaviour event (view, click, cart, fav, purchase) in the warehouse at once.
    Operators name the user; a customer session (the widget's `shopmind.track`) records events
    for its signed-in customer only, rate-limited per session."""
    svc = service(request)
    try:
        if who.role == "customer":
            return svc.customer_event(who.thread, event)
        return svc.ingest_event(event)
    except AccessError as err:
        raise HTTPException(403, str(err)) from err
    except TooManyEventsError as err:
        raise HTTPException(429, f"{err}; wait a moment and retry") from err
    except ValueError as err:
        raise HTTPException(422, f"invalid request: {err}") from err
    except LookupError as err:
        raise HTTPException(404, str(err)) from err
