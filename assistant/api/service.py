"""What the API and the console do, without HTTP: sessions, chat turns, threads, event ingestion,
and the support desk's operations (assistant/desk.py). Those that write messages or run an
action wait for the thread's running turn (the same per-thread lock), so a thread's messages
never interleave; taking a thread and asking for a person do not wait: a status change is one
atomic update, and a turn that finds its thread held when its answer is ready withholds it
(``Agent.stream``).

The dialog model is created on the first chat (``assistant.backends.make_chat_model``), so the
server starts at once and ``/health`` answers while the model loads.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from langchain_core.language_models import BaseChatModel
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from assistant.agent import Agent, AgentEvent
from assistant.api.protocol import (
    BehaviourEvent,
    ChatResponse,
    EventAccepted,
    ThreadResponse,
    ThreadUpdate,
)
from assistant.backends import ModelNotReady
from assistant.desk import ApprovalResult, Desk, DeskStatus
from assistant.signing import is_customer_signature
from assistant.store import Store, StoredMessage, Thread
from assistant.webhook import HandoffWebhook, Send, http_send
from knowledge import customer_records, warehouse
from knowledge.settings import Settings

SESSION_MAX_AGE_S = 24 * 3600


class AccessError(PermissionError):
    """The caller may not do this (HTTP 403)."""


class NotFoundError(LookupError):
    """A thread or product that does not exist (HTTP 404)."""


class ModelUnavailableError(RuntimeError):
    """The dialog model cannot be loaded or reached (HTTP 503); the message says why."""


class TooManyEventsError(RuntimeError):
    """A customer session posted more behaviour events than allowed (HTTP 429)."""


def store_path(settings: Settings):
    return settings.warehouse_dir / f"{settings.shop}.conversations.sqlite"


def default_model(settings: Settings) -> BaseChatModel:
    from assistant.backends import make_chat_model

    return make_chat_model(settings)


def as_the_customer_read_it(messages: list[StoredMessage]) -> list[StoredMessage]:
    """The customer's messages, what a person wrote (with ``author``) and each model answer as
    the customer read it (``shown``); no tool steps, tool errors, notes or withheld answers."""
    return [StoredMessage(id=m.id, role=m.role, content=text, created_at=m.created_at,
                          author=m.author)
            for m in messages
            if (text := m.content if m.role == "user" or m.author else m.shown)]


class ChatService:
    def __init__(self, settings: Settings, model: BaseChatModel | None = None,
                 store: Store | None = None,
                 model_factory: Callable[[Settings], BaseChatModel] = default_model,
                 webhook_send: Send = http_send):
        self.settings = settings
        self.operator_token = settings.operator_token or secrets.token_urlsafe(24)
        self._signer = URLSafeTimedSerializer(settings.session_secret or secrets.token_hex(32),
                                              salt="shopmind-customer-session")
        self.store = store or Store(store_path(settings))
        self.webhook = HandoffWebhook(settings, self.store, send=webhook_send)
        self.desk = Desk(self.store, self.webhook)
        self._event_limiter = MovingWindowRateLimiter(MemoryStorage())
        self._event_limit = parse(f"{settings.widget_events_per_minute}/minute")
        self._model, self._model_factory = model, model_factory
        self._agent: Agent | None = None
        self._agent_lock = threading.Lock()
        self._thread_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    @property
    def agent(self) -> Agent:
        return self.load_model()

    def load_model(self) -> Agent:
        """The agent, loading the dialog model on first use."""
        with self._agent_lock:
            if self._agent is None:
                try:
                    model = self._model or self._model_factory(self.settings)
                except ModelNotReady as err:  # training in the background: when it answers
                    raise ModelUnavailableError(str(err)) from err
                except Exception as err:  # any loader failure: say which model and why
                    raise ModelUnavailableError(
                        f"the dialog model ({self.backend_name()}) is not available: {err}") from err
                self._agent = Agent(self.settings, model, self.store, desk=self.desk)
            return self._agent

    def backend_name(self) -> str:
        return self.settings.backend_url or f"in-process {self.settings.dialog_model}"

    # -- identities ---------------------------------------------------------------------------
    def is_operator(self, token: str) -> bool:
        return secrets.compare_digest(token.encode(), self.operator_token.encode())

    def new_customer_session(self, customer_id: str | None = None) -> tuple[str, Thread]:
        """A signed session with its own thread; bound to ``customer_id`` at once when the
        shop's backend already signed the customer in, else they authenticate in the chat."""
        if customer_id is not None:
            with warehouse.reading(self.settings.warehouse) as con:
                known = customer_records.is_user(con, customer_id)
            if not known:
                raise NotFoundError(f"customer {customer_id!r} is not a user of shop "
                                    f"{self.settings.shop!r}")
        thread = self.store.new_thread("customer", customer_id=customer_id)
        return self._signer.dumps({"thread_id": thread.thread_id}), thread

    def verified_session(self, customer_id: str, signature: str) -> tuple[str, Thread]:
        """A session bound to ``customer_id`` because the shop's backend signed it
        (``customer_signing_secret``); AccessError for a wrong signature, never a binding."""
        secret = self.settings.customer_signing_secret
        if secret is None:
            raise AccessError("signed customers are not enabled on this server (set "
                              "customer_signing_secret); start an anonymous session instead")
        if not is_customer_signature(secret.get_secret_value(), customer_id, signature):
            self.store.audit(None, "customer_signature_refused", {"customer_id": customer_id})
            raise AccessError("the customer signature does not match this customer id (expected "
                              "hex HMAC-SHA256 of the id with the shared secret); start an "
                              "anonymous session instead")
        session, thread = self.new_customer_session(customer_id)
        self.store.audit(thread.thread_id, "customer_verified", {"customer_id": customer_id})
        return session, thread

    def customer_thread(self, session: str) -> Thread:
        try:
            data = self._signer.loads(session, max_age=SESSION_MAX_AGE_S)
        except SignatureExpired as err:
            raise AccessError("the customer session has expired; start a new one with "
                              "POST /v1/sessions") from err
        except BadSignature as err:
            raise AccessError("invalid customer session; start one with POST /v1/sessions") from err
        return self.store.thread(data["thread_id"])

    # -- conversations ------------------------------------------------------------------------
    def thread_for(self, role: str, thread_id: str | None, session_thread: Thread | None) -> Thread:
        """The thread a caller talks in: customers only their session's, operators their own."""
        if role == "customer":
            if thread_id and thread_id != session_thread.thread_id:
                raise AccessError("a customer session can only use its own thread")
            return session_thread
        if not thread_id:
            return self.store.new_thread("operator")
        thread = self.store.thread(thread_id)
        if thread.role != "operator":
            raise AccessError("operators read customer threads with GET /v1/threads/{id}, "
                              "they cannot talk in them")
        return thread

    def stream(self, thread: Thread, text: str) -> Iterator[AgentEvent]:
        """One turn; turns of the same thread never interleave."""
        with self._thread_locks[thread.thread_id]:
            yield from self.agent.stream(thread.thread_id, text)

    # -- the support desk -----------------------------------------------------------------------
    def desk_status(self, thread_id: str) -> DeskStatus:
        return self.desk.status(self.desk.customer_thread(thread_id))

    def ask_for_person(self, thread: Thread) -> DeskStatus:
        """The widget's "talk to a person" button; at once, even while the model answers."""
        return self.desk.request(thread.thread_id, by="customer")

    def take(self, thread_id: str, operator: str) -> DeskStatus:
        """At once, even while the model answers: that answer never reaches the customer."""
        return self.desk.take(thread_id, operator)

    def reply(self, thread_id: str, operator: str, text: str) -> DeskStatus:
        with self._thread_locks[thread_id]:
            self.desk.reply(thread_id, operator, text)
            return self.desk_status(thread_id)

    def hand_back(self, thread_id: str, operator: str) -> DeskStatus:
        with self._thread_locks[thread_id]:
            return self.desk.hand_back(thread_id, operator)

    def resolve(self, thread_id: str, operator: str) -> DeskStatus:
        with self._thread_locks[thread_id]:
            return self.desk.resolve(thread_id, operator)

    def approve(self, thread_id: str, operator: str) -> ApprovalResult:
        with self._thread_locks[thread_id]:
            return self.desk.approve(thread_id, operator, self.agent.run_approved)

    async def updates(self, thread: Thread, after: int | None, wait_s: float, customer: bool,
                      poll_s: float = 1.0) -> AsyncIterator[ThreadUpdate]:
        """What happens in a thread from message ``after`` on (None = from now), for up to
        ``wait_s`` seconds: the desk status whenever it changes, then each new message. A
        customer gets only the messages a person wrote (their own and the assistant's reach
        them through their chat turns, and a stored model answer is not what they were shown).
        Asynchronous, so that a waiting customer holds no worker thread between two polls."""
        if after is None:
            last = await asyncio.to_thread(self.store.messages, thread.thread_id)
            after = last[-1].id if last else 0
        deadline, status = time.monotonic() + wait_s, None
        while True:
            found, after, status = await asyncio.to_thread(self._poll, thread.thread_id, after,
                                                           status, customer)
            for update in found:
                yield update
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(min(poll_s, max(deadline - time.monotonic(), 0)))

    def _poll(self, thread_id: str, after: int, status: str | None,
              customer: bool) -> tuple[list[ThreadUpdate], int, str | None]:
        """One look at the store: (updates, last message id, status) since the last look."""
        found = []
        current = self.store.thread(thread_id)
        if current.role == "customer" and current.status != status:
            status = current.status
            found.append(ThreadUpdate(type="status", cursor=after, desk=self.desk.status(current)))
        for message in self.store.messages(thread_id, after_id=after):
            after = message.id
            if not customer or message.author is not None:
                found.append(ThreadUpdate(type="message", cursor=after, message=message))
        return found, after, status

    def chat(self, thread: Thread, text: str) -> ChatResponse:
        events = list(self.stream(thread, text))
        confirm = next((e for e in events if e.type == "confirm"), None)
        return ChatResponse(thread_id=thread.thread_id, answer=events[-1].text, events=events,
                            awaiting_confirmation={"name": confirm.name, "args": confirm.args}
                            if confirm else None)

    def thread_view(self, thread: Thread, customer: bool) -> ThreadResponse:
        """The thread for an operator (every message, tool call and result) or for its
        customer (``customer``: the conversation as the widget showed it)."""
        thread = self.store.thread(thread.thread_id)
        messages = self.store.messages(thread.thread_id)
        return ThreadResponse(thread_id=thread.thread_id, role=thread.role,
                              customer_id=thread.customer_id, awaiting_confirmation=thread.pending,
                              status=thread.status, assignee=thread.assignee,
                              messages=as_the_customer_read_it(messages) if customer else messages)

    # -- behaviour events -----------------------------------------------------------------------
    def customer_event(self, thread: Thread, event: BehaviourEvent) -> EventAccepted:
        """A behaviour event from the widget (``shopmind.track``): recorded for the session's
        signed-in customer only, at most ``widget_events_per_minute`` per session."""
        if thread.customer_id is None:
            raise AccessError("events are recorded for a signed-in customer only; this session "
                              "is anonymous")
        if event.user_id not in (None, thread.customer_id):
            raise AccessError("a customer session records events for its own customer only "
                              "(leave user_id out)")
        if not self._event_limiter.hit(self._event_limit, thread.thread_id):
            raise TooManyEventsError(f"too many events from this session (at most "
                                     f"{self.settings.widget_events_per_minute} per minute)")
        return self.ingest_event(event.model_copy(update={
            "user_id": thread.customer_id, "session_id": event.session_id or thread.thread_id}))

    def ingest_event(self, event: BehaviourEvent) -> EventAccepted:
        """Append one behaviour event to the warehouse; tools read it on their next call."""
        if event.user_id is None:
            raise ValueError("user_id is required when an operator posts an event")
        try:
            category = warehouse.append_event(
                self.settings.warehouse, event.user_id, event.product_id, event.event_type,
                event.ts, event.session_id, event.quantity, event.price)
        except warehouse.UnknownProductError as err:
            raise NotFoundError(f"product {event.product_id!r} is not in the catalogue of "
                                f"shop {self.settings.shop!r}") from err
        self.store.audit(None, "event_ingested", event.model_dump(mode="json"))
        return EventAccepted(user_id=event.user_id, product_id=event.product_id,
                             category=category)
