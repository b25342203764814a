"""Thin routers of the support desk (assistant/desk.py): the customer asks for a person, the
operators list, take, answer, hand back and resolve threads, and both follow a thread live.

Operators need the operator token; a customer session reaches only its own thread.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sse_starlette.sse import EventSourceResponse

from assistant.api.protocol import OperatorAction, OperatorReply, ThreadList
from assistant.api.routes import Caller, Who, operator, service
from assistant.api.service import AccessError, ModelUnavailableError
from assistant.desk import INBOX, ApprovalResult, DeskStateError, DeskStatus
from assistant.store import ThreadStatus
from tools.registry import ToolError

router = APIRouter(tags=["desk"])
Operator = Annotated[Caller, Depends(operator)]
MAX_WAIT_S = 60


@contextmanager
def desk_errors() -> Iterator[None]:
    """The desk's refusals as HTTP errors with their sentence."""
    try:
        yield
    except (DeskStateError, ToolError) as err:
        raise HTTPException(409, str(err)) from err
    except AccessError as err:
        raise HTTPException(403, str(err)) from err
    except KeyError as err:
        raise HTTPException(404, str(err)) from err
    except ModelUnavailableError as err:  # approving runs the action through the agent
        raise HTTPException(503, str(err)) from err


def _own_thread(who: Caller, thread_id: str) -> None:
    if who.role == "customer" and thread_id != who.thread.thread_id:
        raise HTTPException(403, "a customer session can only use its own thread")


@router.get("/v1/threads", response_model=ThreadList)
def list_threads(request: Request, who: Operator,
                 status: Annotated[list[ThreadStatus] | None, Query()] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ThreadList:
    """Customer threads in these statuses (default: waiting_for_human and human), the most
    recently active first."""
    return ThreadList(threads=service(request).store.threads_by_status(
        tuple(status or INBOX), limit))


@router.post("/v1/threads/{thread_id}/handoff", response_model=DeskStatus)
def ask_for_person(request: Request, thread_id: str, who: Who) -> DeskStatus:
    """The customer asks for a person (the widget's button); the answer says their place in
    line. Operators take a thread with `/take` instead."""
    if who.role != "customer":
        raise HTTPException(403, "the customer asks for a person; operators use "
                                 f"POST /v1/threads/{thread_id}/take")
    _own_thread(who, thread_id)
    with desk_errors():
        return service(request).ask_for_person(who.thread)


@router.post("/v1/threads/{thread_id}/take", response_model=DeskStatus)
def take(request: Request, thread_id: str, who: Operator,
         body: OperatorAction | None = None) -> DeskStatus:
    """A person answers this thread from now on; the model stays silent."""
    with desk_errors():
        return service(request).take(thread_id, (body or OperatorAction()).operator)


@router.post("/v1/threads/{thread_id}/reply", response_model=DeskStatus)
def reply(request: Request, thread_id: str, body: OperatorReply, who: Operator) -> DeskStatus:
    """A message to the customer, marked as written by a person (take the thread first)."""
    with desk_errors():
        return service(request).reply(thread_id, body.operator, body.message)


@router.post("/v1/threads/{thread_id}/approve", response_model=ApprovalResult)
def approve(request: Request, thread_id: str, who: Operator,
            body: OperatorAction | None = None) -> ApprovalResult:
    """Run the held write action that the customer confirmed with an explicit yes; an action
    they did not confirm is refused (409)."""
    with desk_errors():
        return service(request).approve(thread_id, (body or OperatorAction()).operator)


@router.post("/v1/threads/{thread_id}/hand-back", response_model=DeskStatus)
def hand_back(request: Request, thread_id: str, who: Operator,
              body: OperatorAction | None = None) -> DeskStatus:
    """The assistant answers again."""
    with desk_errors():
        return service(request).hand_back(thread_id, (body or OperatorAction()).operator)


@router.post("/v1/threads/{thread_id}/resolve", response_model=DeskStatus)
def resolve(request: Request, thread_id: str, who: Operator,
            body: OperatorAction | None = None) -> DeskStatus:
    """Close the thread; the customer's next message reopens it with the assistant."""
    with desk_errors():
        return service(request).resolve(thread_id, (body or OperatorAction()).operator)


@router.get("/v1/threads/{thread_id}/updates")
def updates(request: Request, thread_id: str, who: Who,
            after: Annotated[int | None, Query(ge=0, description="Last message id seen; "
                                               "empty = from now.")] = None,
            wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S, description="Seconds to keep "
                                         "the stream open.")] = 25) -> EventSourceResponse:
    """Server-Sent Events of a thread: `status` (where it stands at the desk) and `message`
    (customers: only what a person wrote, with `author`). The stream ends after `wait` seconds;
    reconnect with `after` = the last `cursor`."""
    _own_thread(who, thread_id)
    svc = service(request)
    with desk_errors():
        thread = svc.store.thread(thread_id)
    async def events() -> AsyncIterator[dict]:
        async for u in svc.updates(thread, after, wait, customer=who.role == "customer"):
            yield {"event": u.type, "data": json.dumps(u.model_dump(mode="json"))}

    return EventSourceResponse(events())
