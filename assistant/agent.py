"""The agent: a LangChain ``create_agent`` loop over any chat model, made safe by code.

The model proposes tool calls; this module decides what runs:
- only the role's tools are offered, and every call is checked again (``roles.check_call``);
- a customer conversation is bound to the customer that ``find_user_id_*`` found, in the store;
  a customer who is not signed in and writes one e-mail address (or a name with a zip code) is
  looked up by the agent before the model answers (assistant/sign_in.py), and a customer who
  explicitly asks for a person is handed over without asking the model
  (assistant/human_request.py);
- a write action proposed by the model never runs. The agent records it as pending, describes
  it to the customer and asks for a yes; only an explicit yes as the customer's *next* message
  runs exactly that action (anything else drops it);
- at most ``max_tool_steps`` tool calls per turn; a call repeated with the same arguments is
  answered from the first result (or error) and the model must then answer in words; tool errors go
  back to the model as tool messages (status "error"), never as crashes;
- a customer never reads a tool error, tool-call markup or an internal message: such an answer,
  or a turn that ends on an error the model did not answer, becomes a polite reply
  (assistant/customer_reply.py); the store and the audit log keep what really happened.
Every turn streams events (tokens, tool calls, tool results) and is written to the store as it
happens.

While a person holds a customer thread (``store.HELD``, assistant/desk.py) the model is not
called: the customer's message is stored and the turn is a ``handoff`` event; a yes to a held
write action only marks it confirmed, for the operator to approve (``run_approved``). A turn
that was already running when the thread became held (an operator took it, the customer or the
model asked for a person) streams no more tokens and ends the same way: its answer and any
write action it proposed stay in the store and the audit log (``answer_withheld``) for the
operator, never with the customer.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol

from langchain.agents import create_agent
from langchain.agents.middleware import ModelRequest, ToolCallLimitMiddleware, wrap_model_call
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel

from assistant.customer_reply import (
    CustomerStream,
    Reply,
    apologies,
    clean,
    customer_text,
    withheld,
)
from assistant.human_request import asks_for_a_person
from assistant.roles import check_call
from assistant.sign_in import SIGNED_IN_REPLY, asks_more_than_sign_in, identity_to_sign_in
from assistant.store import HELD, Store, StoredMessage, Thread
from knowledge.settings import Settings
from tools.customer_service import preview
from tools.model_view import AWAITING_CONFIRMATION, model_view, result_text
from tools.registry import (
    ToolContext,
    ToolError,
    ToolSpec,
    get_tool,
    role_specs,
    role_tools,
    system_prompt,
)

YES = re.compile(r"^\s*(yes|y|yes please|yes,? (please|go ahead|do it|proceed|confirm(ed)?)|"
                 r"confirm(ed)?|i confirm|go ahead|proceed)\s*[.!]*\s*$", re.IGNORECASE)


class AgentEvent(BaseModel):
    """One streamed event of a turn."""

    type: Literal["token", "tool_call", "tool_result", "confirm", "handoff", "final"]
    text: str = ""
    name: str | None = None
    args: dict | None = None
    call_id: str | None = None
    result: Any = None
    error: bool = False


def is_explicit_yes(text: str) -> bool:
    return bool(YES.match(text))


def describe_action(name: str, args: dict) -> str:
    details = ", ".join(f"{k}: {json.dumps(v) if isinstance(v, list) else v}"
                        for k, v in args.items())
    return f"{name.replace('_', ' ')} ({details})"


def recent(messages: list[StoredMessage], limit: int) -> list[StoredMessage]:
    """The last turns that fit in ``limit`` messages, starting at a user message (so a tool
    result never loses its call). The current turn is always kept whole."""
    starts = [i for i, m in enumerate(messages) if m.role == "user"]
    fitting = [i for i in starts if len(messages) - i <= limit]
    return messages[fitting[0] if fitting else (starts[-1] if starts else 0):]


def to_langchain(messages: list[StoredMessage]) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for m in messages:
        if m.role == "user":
            out.append(HumanMessage(m.content))
        elif m.role == "assistant":
            calls = [{"name": c["name"], "args": c["args"], "id": c["id"]}
                     for c in m.tool_calls or []]
            out.append(AIMessage(m.content, tool_calls=calls))
        else:
            out.append(ToolMessage(m.content, tool_call_id=m.tool_call_id or "", name=m.name,
                                   status="error" if m.status == "error" else "success"))
    return out


class _Turn:
    """What one turn learns: the write action the model proposed (to be confirmed), the
    results of the calls made so far (a repeated identical call is answered from them), and
    what a customer must not read (the turn's tool errors)."""

    def __init__(self, role: str) -> None:
        self.pending: dict | None = None
        self.results: dict[str, tuple[str, bool]] = {}  # call -> (result text, failed)
        self.repeated = False
        self.internal: list[str] = [AWAITING_CONFIRMATION]  # what a customer must not read
        self.errors: list[str] = []  # tool errors, in order
        self.unanswered_error: str | None = None  # the last result, if an error, until words
        self.done_action: str | None = None  # the confirmed action that ran, in words
        self.last_message_id: int | None = None  # the model's last stored message
        self.stream = CustomerStream(self.internal, self.errors) if role == "customer" \
            else None

    def saw_result(self, content: str, error: bool) -> None:
        if error:
            self.internal.append(content)
            self.errors.append(content)
        self.unanswered_error = content if error else None

    def saw_note(self, content: str) -> None:
        """A message of the machinery (the step limit's), not of the model or a tool."""
        if content:
            self.internal.append(content)

    def customer_answer(self, answer: str) -> Reply:
        """What the customer reads of the model's answer (assistant/customer_reply.py)."""
        if self.pending:  # the confirmation question follows: no apology in front of it
            why = withheld(answer, self.internal, self.errors)
            return Reply("", why) if why else Reply(clean(answer))
        return customer_text(answer, self.internal, self.errors, self.unanswered_error,
                             self.done_action)

    def answer_after_repeat(self) -> Any:
        """Middleware: once the model repeats a call it already has the result of, its next
        reply must be words (tool_choice "none"), not the same call until the step limit."""
        turn = self

        @wrap_model_call
        def middleware(request: ModelRequest, handler: Callable) -> Any:
            if turn.repeated:
                request = request.override(tool_choice="none")
            return handler(request)

        return middleware


@wrap_model_call
def show_model_view(request: ModelRequest, handler: Callable) -> Any:
    """Middleware: the model sees the start of each tool result (tools/model_view.py, as in
    training); the store, the UI and the API keep the whole result."""
    messages = [m.model_copy(update={"content": model_view(str(m.content))})
                if isinstance(m, ToolMessage) else m for m in request.messages]
    return handler(request.override(messages=messages))


def offer_as_trained(role: str):
    """Middleware: the model is offered the role's tools exactly as in training and evaluation
    (``tools.registry.role_tools``). LangChain's own conversion of a tool inlines the schema's
    ``$defs``, which changes the tool line the chat template writes (``filters?: object``
    where the model learned ``filters?: ``)."""
    schemas = {tool["function"]["name"]: tool for tool in role_tools(role)}

    @wrap_model_call
    def offer(request: ModelRequest, handler: Callable) -> Any:
        tools = [schemas.get(getattr(t, "name", None), t) for t in request.tools]
        return handler(request.override(tools=tools))

    return offer


class DeskHooks(Protocol):
    """What the agent tells the support desk (``assistant.desk.Desk``)."""

    def request(self, thread_id: str, by: str, summary: str | None = None) -> Any: ...

    def customer_wrote(self, thread: Thread, text: str) -> Thread: ...

    def notice(self, thread: Thread) -> str: ...


class Agent:
    def __init__(self, settings: Settings, model: BaseChatModel, store: Store,
                 max_tool_steps: int = 6, max_history: int = 30, desk: DeskHooks | None = None):
        self.settings = settings
        self.model = model
        self.store = store
        self.desk = desk
        self.max_tool_steps = max_tool_steps
        self.max_history = max_history  # messages the model sees (small models, small contexts)

    # -- tools ------------------------------------------------------------------------------
    def _context(self, thread: Thread) -> ToolContext:
        return ToolContext(self.settings, role=thread.role, customer_id=thread.customer_id)

    def _execute(self, thread: Thread, spec: ToolSpec, args: dict) -> dict:
        """Run one allowed call; binds the conversation when a look-up signs the customer in."""
        ctx = self._context(thread)
        check_call(thread.role, spec, args)
        result = spec.invoke(ctx, args)
        if ctx.customer_id != thread.customer_id:
            self.store.bind_customer(thread.thread_id, ctx.customer_id)
            thread.customer_id = ctx.customer_id
        self.store.audit(thread.thread_id, "tool_call", {"name": spec.name, "args": args})
        if "handoff_summary" in ctx.extras and self.desk is not None:  # transfer_to_human_agents
            self.desk.request(thread.thread_id, by="model", summary=ctx.extras["handoff_summary"])
        return result

    def _guarded(self, thread: Thread, turn: _Turn, spec: ToolSpec, args: dict) -> str:
        key = json.dumps([spec.name, args], sort_keys=True, default=str)
        if key in turn.results:  # a repeated held write, too: it is still held
            turn.repeated = True
            text, failed = turn.results[key]
            if failed:
                raise ToolException(text)
            return text
        try:
            if spec.writes:
                check_call(thread.role, spec, args)
                preview(self._context(thread), spec, args)  # every check runs, nothing changes
                turn.pending = {"name": spec.name, "args": args}
                self.store.audit(thread.thread_id, "confirm_asked", turn.pending)
                turn.results[key] = (AWAITING_CONFIRMATION, False)
                return AWAITING_CONFIRMATION
            result = self._execute(thread, spec, args)
        except Exception as err:  # a tool bug must not end the conversation either
            message = str(err) if isinstance(err, ToolError) else (
                f"tool {spec.name} failed unexpectedly ({type(err).__name__}: {err})")
            self.store.audit(thread.thread_id, "tool_refused", {"name": spec.name, "args": args,
                                                                 "error": message})
            turn.results[key] = (f"Error: {message}", True)
            raise ToolException(f"Error: {message}") from err
        text = result_text(result)
        turn.results[key] = (text, False)
        return text

    def _langchain_tools(self, thread: Thread, turn: _Turn) -> list[StructuredTool]:
        def make(spec: ToolSpec) -> StructuredTool:
            def run(**kwargs: Any) -> str:
                return self._guarded(thread, turn, spec, kwargs)

            return StructuredTool.from_function(
                func=run, name=spec.name, description=spec.description,
                args_schema=spec.openai_schema()["function"]["parameters"],
                handle_tool_error=True)

        return [make(spec) for spec in role_specs(thread.role)]

    # -- confirmation -------------------------------------------------------------------------
    def _run_confirmed(self, thread: Thread, turn: _Turn) -> Iterator[AgentEvent]:
        """The customer said yes to the pending action: run exactly that action."""
        pending = thread.pending
        self.store.set_pending(thread.thread_id, None)
        thread.pending = None
        self.store.audit(thread.thread_id, "confirmed", pending)
        ok = yield from self._run_call(thread, turn, pending["name"], pending["args"],
                                       "confirmed")
        if ok:
            turn.done_action = describe_action(pending["name"], pending["args"])

    def _run_call(self, thread: Thread, turn: _Turn, name: str, args: dict, why: str):
        """Run one call the agent makes itself (not proposed by the model this turn), stored
        as the model's call and its result; returns whether it succeeded."""
        call_id = f"{why}_{uuid.uuid4().hex[:12]}"
        yield AgentEvent(type="tool_call", name=name, args=args, call_id=call_id)
        try:
            result = self._execute(thread, get_tool(name), args)
            content, error = result_text(result), False
        except Exception as err:  # noqa: BLE001 - reported to the model, never a crash
            result, content, error = str(err), f"Error: {err}", True
        turn.saw_result(content, error)
        self.store.add_message(thread.thread_id, "assistant", "", tool_calls=[
            {"id": call_id, "name": name, "args": args}])
        self.store.add_message(thread.thread_id, "tool", content, tool_call_id=call_id,
                               name=name, status="error" if error else "ok")
        yield AgentEvent(type="tool_result", name=name, call_id=call_id, result=result,
                         error=error)
        return not error

    def run_approved(self, thread_id: str) -> list[AgentEvent]:
        """An operator approved the held action the customer confirmed (assistant/desk.py):
        run exactly it, in the customer's scope. Refuses an action without the customer's yes."""
        thread = self.store.thread(thread_id)
        if not (thread.pending and thread.pending.get("confirmed")):
            raise ToolError("no write action confirmed by the customer is waiting in this thread")
        return list(self._run_confirmed(thread, _Turn(thread.role)))

    def _while_held(self, thread: Thread, text: str) -> Iterator[AgentEvent]:
        """A person answers this thread: the message is stored, the model is not called. An
        explicit yes to a held write action marks it confirmed (the operator may then approve
        it); anything else drops an action not yet confirmed, as in a turn with the model."""
        pending = thread.pending
        if pending and not pending.get("confirmed"):
            if is_explicit_yes(text):
                self.store.set_pending(thread.thread_id, pending | {"confirmed": True})
                self.store.audit(thread.thread_id, "confirmed_for_operator", pending)
            else:
                self.store.set_pending(thread.thread_id, None)
                self.store.audit(thread.thread_id, "declined", pending)
        yield from self._handoff(thread)

    def _handoff(self, thread: Thread) -> Iterator[AgentEvent]:
        """The end of a turn in a held thread: where the customer stands, and no answer."""
        notice = self.desk.notice(thread) if self.desk is not None else ""
        yield AgentEvent(type="handoff", text=notice, name=thread.status)
        yield AgentEvent(type="final", text="")

    def _withhold(self, thread: Thread, turn: _Turn, answer: str) -> Iterator[AgentEvent]:
        """The thread became held while the model answered: a person answers now, so the
        customer gets neither the model's answer nor the write action it proposed (kept for the
        operator: the messages in the store, both in the audit log)."""
        self.store.audit(thread.thread_id, "answer_withheld", {
            "status": thread.status, "model_answer": answer, "proposed_action": turn.pending})
        yield from self._handoff(thread)

    # -- one turn -----------------------------------------------------------------------------
    def stream(self, thread_id: str, text: str) -> Iterator[AgentEvent]:
        thread = self.store.thread(thread_id)
        self.store.add_message(thread_id, "user", text)
        if thread.role == "customer" and self.desk is not None:
            thread = self.desk.customer_wrote(thread, text)
        if thread.role == "customer" and thread.status in HELD:
            yield from self._while_held(thread, text)
            return
        turn = _Turn(thread.role)
        if thread.pending:
            if is_explicit_yes(text):
                yield from self._run_confirmed(thread, turn)
            else:
                self.store.audit(thread_id, "declined", thread.pending)
                self.store.set_pending(thread_id, None)
                thread.pending = None
        agent = create_agent(
            self.model, self._langchain_tools(thread, turn), system_prompt=system_prompt(thread.role),
            middleware=[ToolCallLimitMiddleware(run_limit=self.max_tool_steps,
                                                exit_behavior="end"),
                        turn.answer_after_repeat(), show_model_view,
                        offer_as_trained(thread.role)])
        signed_in, identity = False, None
        if thread.role == "customer" and thread.customer_id is None and (
                identity := identity_to_sign_in(text)):
            signed_in = yield from self._run_call(thread, turn, *identity, "sign_in")
        if thread.role == "customer" and self.desk is not None and asks_for_a_person(text):
            yield from self._run_call(thread, turn, "transfer_to_human_agents",
                                      {"summary": f"The customer asks for a person: {text}"},
                                      "person_asked")
            if (now := self.store.thread(thread_id)).status in HELD:
                yield from self._handoff(now)
                return
        history = to_langchain(recent(self.store.messages(thread_id), self.max_history))
        if signed_in and asks_more_than_sign_in(text, identity[1]):  # the request next
            history += [AIMessage(SIGNED_IN_REPLY), HumanMessage(text)]
        answer = ""
        for mode, chunk in agent.stream({"messages": history}, stream_mode=["messages", "updates"]):
            if mode == "messages":
                message, meta = chunk
                if isinstance(message, AIMessageChunk) and message.content and meta.get(
                        "langgraph_node") == "model":
                    token = str(message.content) if turn.stream is None else \
                        turn.stream.feed(message.id, str(message.content))
                    yield from self._token(thread, token)
                continue
            for node, update in chunk.items():
                for message in (update or {}).get("messages", []) if isinstance(update, dict) else []:
                    answer = yield from self._record(thread, turn, message, answer,
                                                     note=node not in ("model", "tools"))
        if thread.role == "customer" and (now := self.store.thread(thread_id)).status in HELD:
            yield from self._withhold(now, turn, answer)  # taken, or handed over, meanwhile
            return
        if thread.role == "customer":
            answer = self._for_customer(thread_id, turn, answer)
        if turn.last_message_id is not None:
            self.store.set_shown(turn.last_message_id, answer)
        if turn.pending:
            thread.pending = turn.pending
            self.store.set_pending(thread_id, turn.pending)
            ask = (f"Please confirm: {describe_action(**turn.pending)}. "
                   "Reply 'yes' to proceed, or tell me what to change.")
            self.store.add_message(thread_id, "assistant", ask, shown=ask)
            yield AgentEvent(type="confirm", text=ask, name=turn.pending["name"],
                             args=turn.pending["args"])
            answer = f"{answer}\n\n{ask}".strip()
        yield AgentEvent(type="final", text=answer)

    def _for_customer(self, thread_id: str, turn: _Turn, answer: str) -> str:
        """The answer a customer reads; a replaced one is audited with both texts."""
        reply = turn.customer_answer(answer)
        if reply.why is not None:
            self.store.audit(thread_id, "customer_reply_replaced", {
                "model_answer": answer, "shown": reply.text, "why": reply.why, "error": reply.error,
                "kind": apologies().kind(reply.error) if reply.error else None})
        return reply.text

    def _token(self, thread: Thread, text: str) -> Iterator[AgentEvent]:
        """Streamed text, unless a person took the customer's thread meanwhile (one look at
        the store per token: nothing next to a model's decoding)."""
        if text and not (thread.role == "customer"
                         and self.store.thread(thread.thread_id).status in HELD):
            yield AgentEvent(type="token", text=text)

    def _record(self, thread: Thread, turn: _Turn, message: BaseMessage, answer: str,
                note: bool = False):
        """Store a finished message and turn it into events; returns the answer so far.
        ``note``: written by a middleware (the step limit), not by the model or a tool."""
        if note:
            turn.saw_note(str(message.content))
        if isinstance(message, AIMessage):
            if turn.stream is not None:
                yield from self._token(thread, turn.stream.finish())
            calls = [{"id": c["id"], "name": c["name"], "args": c["args"]}
                     for c in message.tool_calls]
            turn.last_message_id = self.store.add_message(
                thread.thread_id, "assistant", str(message.content), tool_calls=calls or None)
            if message.content and not note:
                turn.unanswered_error = None
            for c in calls:
                yield AgentEvent(type="tool_call", name=c["name"], args=c["args"], call_id=c["id"])
            return str(message.content) if message.content else answer
        if isinstance(message, ToolMessage):
            error = message.status == "error"
            if not note:
                turn.saw_result(str(message.content), error)
            self.store.add_message(thread.thread_id, "tool", str(message.content),
                                   tool_call_id=message.tool_call_id, name=message.name,
                                   status="error" if error else "ok")
            try:
                result = json.loads(message.content)
            except (TypeError, ValueError):
                result = message.content
            yield AgentEvent(type="tool_result", name=message.name, call_id=message.tool_call_id,
                             result=result, error=error)
        return answer

    def chat(self, thread_id: str, text: str) -> list[AgentEvent]:
        return list(self.stream(thread_id, text))
