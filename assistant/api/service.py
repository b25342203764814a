"""What the API and the console do, without HTTP: sessions, chat turns, threads, event ingestion.

The dialog model is created on the first chat (``assistant.backends.make_chat_model``), so the
server starts at once and ``/health`` answers while the model loads.
"""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from langchain_core.language_models import BaseChatModel

from assistant.agent import Agent, AgentEvent
from assistant.api.protocol import BehaviourEvent, ChatResponse, EventAccepted, ThreadResponse
from assistant.backends import ModelNotReady
from assistant.store import Store, Thread
from knowledge import customer_records, warehouse
from knowledge.settings import Settings

SESSION_MAX_AGE_S = 24 * 3600


class AccessError(PermissionError):
    """The caller may not do this (HTTP 403)."""


class NotFoundError(LookupError):
    """A thread or product that does not exist (HTTP 404)."""


class ModelUnavailableError(RuntimeError):
    """The dialog model cannot be loaded or reached (HTTP 503); the message says why."""


def store_path(settings: Settings):
    return settings.warehouse_dir / f"{settings.shop}.conversations.sqlite"


def default_model(settings: Settings) -> BaseChatModel:
    from assistant.backends import make_chat_model

    return make_chat_model(settings)


class ChatService:
    def __init__(self, settings: Settings, model: BaseChatModel | None = None,
                 store: Store | None = None,
                 model_factory: Callable[[Settings], BaseChatModel] = default_model):
        self.settings = settings
        self.operator_token = settings.operator_token or secrets.token_urlsafe(24)
        self._signer = URLSafeTimedSerializer(settings.session_secret or secrets.token_hex(32),
                                              salt="shopmind-customer-session")
        self.store = store or Store(store_path(settings))
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
                self._agent = Agent(self.settings, model, self.store)
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

    def chat(self, thread: Thread, text: str) -> ChatResponse:
        events = list(self.stream(thread, text))
        confirm = next((e for e in events if e.type == "confirm"), None)
        return ChatResponse(thread_id=thread.thread_id, answer=events[-1].text, events=events,
                            awaiting_confirmation={"name": confirm.name, "args": confirm.args}
                            if confirm else None)

    def thread_view(self, thread: Thread) -> ThreadResponse:
        thread = self.store.thread(thread.thread_id)
        return ThreadResponse(thread_id=thread.thread_id, role=thread.role,
                              customer_id=thread.customer_id, awaiting_confirmation=thread.pending,
                              messages=self.store.messages(thread.thread_id))

    # -- behaviour events -----------------------------------------------------------------------
    def ingest_event(self, event: BehaviourEvent) -> EventAccepted:
        """Append one behaviour event to the warehouse; tools read it on their next call."""
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
