"""The handoff case of the load benchmark (``bench/load.py --handoff N``): N customer sessions
ask for a person while the other sessions chat with the assistant; one operator takes each
waiting thread and answers it. Afterwards every thread is read back from the store: each message
a customer sent and each reply the operator sent must be there, and the model must not have
answered a held thread.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from assistant.store import Store

HELD_MESSAGES = ("Is anyone there?", "My parcel never arrived.")
REPLY = "Hello, Ana from the support team here."


async def _customer(client: httpx.AsyncClient, email: str, sent: dict, errors: list) -> None:
    r = await client.post("/v1/sessions")
    if r.status_code != 200:
        errors.append(f"session: HTTP {r.status_code}")
        return
    headers, thread = {"X-Session": r.json()["session"]}, r.json()["thread_id"]
    sent[thread] = []
    for path, body in [("/v1/chat", {"message": f"Hi, my email is {email}"}),
                       (f"/v1/threads/{thread}/handoff", None),
                       *[("/v1/chat", {"message": text}) for text in HELD_MESSAGES]]:
        r = await client.post(path, json=body, headers=headers)
        if r.status_code != 200:
            errors.append(f"{path}: HTTP {r.status_code}: {r.text[:200]}")
        elif body:
            sent[thread].append(body["message"])


async def _operator(client: httpx.AsyncClient, token: str, n: int, replied: dict,
                    errors: list, deadline: float) -> None:
    """Take each waiting thread and answer it, until n threads were answered."""
    op = {"Authorization": f"Bearer {token}"}
    while len(replied) < n and time.monotonic() < deadline:
        waiting = (await client.get("/v1/threads?status=waiting_for_human", headers=op)).json()
        for t in waiting["threads"]:
            url = f"/v1/threads/{t['thread_id']}"
            for path, body in (("take", {"operator": "Ana"}),
                               ("reply", {"operator": "Ana", "message": REPLY})):
                r = await client.post(f"{url}/{path}", json=body, headers=op)
                if r.status_code != 200:
                    errors.append(f"{path}: HTTP {r.status_code}: {r.text[:200]}")
            replied[t["thread_id"]] = REPLY
        await asyncio.sleep(0.2)


def _check(store: Store, sent: dict, replied: dict) -> dict:
    """Read every handed-off thread back: lost messages, and model answers while held."""
    lost, model_answers = 0, 0
    for thread, texts in sent.items():
        messages = store.messages(thread)
        users = [m.content for m in messages if m.role == "user"]
        lost += sum(1 for text in texts if text not in users)
        people = [m.content for m in messages if m.author is not None]
        lost += int(thread in replied and replied[thread] not in people)
        asked = next((i for i, m in enumerate(messages) if m.content == HELD_MESSAGES[0]), None)
        if asked is not None:
            model_answers += sum(1 for m in messages[asked:] if m.role != "user"
                                 and m.author is None)
    return {"lost_messages": lost, "model_answers_while_held": model_answers}


async def run(url: str, token: str, emails: list[str], store: Store, timeout: float) -> dict:
    sent: dict[str, list[str]] = {}
    replied: dict[str, str] = {}
    errors: list[str] = []
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        await asyncio.gather(_operator(client, token, len(emails), replied, errors,
                                       time.monotonic() + timeout),
                             *(_customer(client, email, sent, errors) for email in emails))
    return {"handed_off": len(emails), "answered_by_a_person": len(replied),
            "errors": len(errors), "error_samples": errors[:5],
            "wall_s": round(time.perf_counter() - started, 2), **_check(store, sent, replied)}
