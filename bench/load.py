"""Load test: concurrent customer sessions against the running API with the local dialog backend.

    .venv/bin/python bench/load.py                      # 20 sessions x 2 turns, synthetic shop
    .venv/bin/python bench/load.py --turns 1 --set dialog_model=artifacts/dialog/base

Starts the real app (uvicorn, in this process) on a free port with the backend from settings
(in-process CPU model unless backend_url is set), opens N customer sessions at once, and each
session sends its turns one after another (sign in by email, then ask about an order). Records
per-request latency (p50/p99), errors, and writes bench/results/load.json (one entry per
kind of run: ``local_backend_batch<dialog_max_batch>``, ``backend_url``, or
``no_model_baseline`` with --no-model-baseline, where a
scripted test model stands in for the LLM to show what the rest of the stack costs).

    .venv/bin/python bench/load.py --no-model-baseline --handoff 5   # 15 chat + 5 handed off

``--handoff N``: N of the sessions ask for a person instead, while the others chat, and one
operator answers them (bench/handoff.py); the entry gets a ``handoff`` part (errors, lost
messages, model answers while a person held a thread) and its key a ``_handoff`` suffix.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `knowledge` is the package, not bench/knowledge.py

from bench import handoff
from bench.common import write_results
from knowledge import warehouse
from knowledge.settings import load_settings

RESULTS = Path(__file__).parent / "results" / "load.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _customers(settings, n: int) -> list[tuple[str, str]]:
    con = warehouse.connect(settings.warehouse)
    rows = con.execute("SELECT u.email, min(o.order_id) FROM users u JOIN orders o USING (user_id) "
                       "WHERE u.email IS NOT NULL GROUP BY u.email ORDER BY hash(u.email) LIMIT ?",
                       [n]).fetchall()
    con.close()
    if len(rows) < n:
        raise SystemExit(f"the {settings.shop} warehouse has only {len(rows)} customers with "
                         "an email and an order")
    return rows


async def _session(client: httpx.AsyncClient, email: str, order: str, turns: int,
                   latencies: list, errors: list, bar: tqdm) -> None:
    try:
        r = await client.post("/v1/sessions")
        r.raise_for_status()
        headers = {"X-Session": r.json()["session"]}
    except httpx.HTTPError as err:
        errors.append(f"session: {err!r}")
        bar.update(turns)
        return
    messages = [f"Hi, my email is {email}", f"What is the status of my order {order}?",
                "Thanks, that is all."][:turns]
    for text in messages:
        started = time.perf_counter()
        try:
            r = await client.post("/v1/chat", json={"message": text}, headers=headers)
            if r.status_code != 200:
                errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
            else:
                latencies.append(time.perf_counter() - started)
        except httpx.HTTPError as err:
            errors.append(repr(err))
        bar.update(1)


async def _run(url: str, customers, turns: int, timeout: float) -> tuple[list, list, float]:
    latencies, errors = [], []
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        with tqdm(total=len(customers) * turns, desc="chat requests") as bar:
            await asyncio.gather(*(_session(client, email, order, turns, latencies, errors, bar)
                                   for email, order in customers))
    return latencies, errors, time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _median(repeats: list[dict], key: str) -> float | None:
    """The median over repeats of one figure (each repeat's p50, p99, wall time, ...)."""
    values = [r[key] for r in repeats if r[key] is not None]
    return round(statistics.median(values), 2) if values else None


def _scripted_model():
    """Signs in by email, looks the order up, answers from the result: the tool path of a
    customer-service turn with no language model (tests/scripted_model.py)."""
    sys.path.insert(0, str(REPO / "tests"))
    from langchain_core.messages import ToolMessage
    from scripted_model import ScriptedChatModel, call, say

    def script(messages):
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return say(f"Here is what I found: {last.content[:120]}")
        if "@" in last.content:
            return call("find_user_id_by_email", email=last.content.split()[-1])
        if "#" in last.content:
            return call("get_order_details", order_id=last.content.split()[-1].rstrip("?"))
        return say("You are welcome!")

    return ScriptedChatModel(script=script)


def _decoder_stats(service) -> dict:
    """Where the in-process model's time went: prefill, batched decode steps, batch sizes."""
    from dataclasses import asdict

    stats = service.load_model().model.backend.decoder.stats
    out = {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(stats).items()}
    out["mean_batch"] = round(stats.rows_stepped / stats.steps, 2) if stats.steps else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1,
                        help="run the sessions this many times on the same server; latencies and "
                        "wall time are the medians over repeats")
    parser.add_argument("--turns", type=int, default=2, choices=[1, 2, 3])
    parser.add_argument("--timeout", type=float, default=1800.0, help="per request, seconds")
    parser.add_argument("--max-tokens", type=int, default=64,
                        help="longest model reply per call (bounds the run on a small CPU)")
    parser.add_argument("--handoff", type=int, default=0,
                        help="of the sessions, how many ask for a person (bench/handoff.py)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="settings override KEY=VALUE")
    parser.add_argument("--no-model-baseline", action="store_true",
                        help="replace the dialog model by the scripted test model (NOT a language "
                        "model) to measure what the API, agent, tools and store cost on their own")
    args = parser.parse_args()
    if args.handoff and args.repeats > 1:
        parser.error("--handoff runs once: leave --repeats at 1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import uvicorn

    from assistant.api.app import create_app
    from assistant.api.routes import CHAT_LIMIT
    from assistant.api.service import ChatService
    from knowledge.settings import parse_overrides

    settings = load_settings(overrides=parse_overrides(args.overrides))
    customers = _customers(settings, args.sessions)
    from assistant.backends import make_chat_model
    from assistant.store import Store

    scratch = tempfile.mkdtemp(prefix="shopmind-load-")  # conversations of this run only
    service = ChatService(settings, store=Store(Path(scratch) / "conversations.sqlite"),
                          model=_scripted_model() if args.no_model_baseline else None,
                          model_factory=lambda s: make_chat_model(s, max_tokens=args.max_tokens))
    loaded = time.perf_counter()
    service.load_model()  # before the clock starts
    load_s = time.perf_counter() - loaded
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    load_before = os.getloadavg()
    url = f"http://127.0.0.1:{port}"
    chatting, handed_off = customers[:len(customers) - args.handoff], \
        customers[len(customers) - args.handoff:]

    async def both():
        return await asyncio.gather(
            _run(url, chatting, args.turns, args.timeout),
            handoff.run(url, service.operator_token, [email for email, _ in handed_off],
                        service.store, args.timeout) if args.handoff else asyncio.sleep(0))

    repeats, errors = [], []
    for repeat in range(args.repeats):
        if repeat and repeats[-1]["wall_s"] < 61:  # all sessions come from one client: let the
            time.sleep(61 - repeats[-1]["wall_s"])  # per-client limit (CHAT_LIMIT) reset
        (latencies, repeat_errors, wall), desk = asyncio.run(both())
        errors += repeat_errors
        repeats.append({"ok": len(latencies), "errors": len(repeat_errors), "wall_s": round(wall, 2),
                        "p50": _percentile(latencies, 0.5), "p99": _percentile(latencies, 0.99),
                        "mean": statistics.fmean(latencies) if latencies else None,
                        "max": max(latencies, default=None)})
    server.should_exit = True
    tool_calls = Counter(f"{r['event']}:{r['detail'].get('name')}" for r in service.store.audit_log()
                         if r["event"] in ("tool_call", "tool_refused", "confirm_asked"))

    result = {
        "command": "python bench/load.py " + " ".join(
            [f"--sessions {args.sessions}", f"--turns {args.turns}", f"--repeats {args.repeats}",
             f"--max-tokens {args.max_tokens}"] + [f"--set {o}" for o in args.overrides]
            + (["--no-model-baseline"] if args.no_model_baseline else [])
            + ([f"--handoff {args.handoff}"] if args.handoff else [])),
        "load_average_1m": {"before": round(load_before[0], 1),
                            "after": round(os.getloadavg()[0], 1)},
        "shop": settings.shop,
        "backend": "scripted test model (no LLM)" if args.no_model_baseline
        else service.backend_name(),
        "dialog_max_batch": settings.dialog_max_batch,
        "sessions": args.sessions, "turns_per_session": args.turns,
        "max_tokens": args.max_tokens,
        "requests": len(chatting) * args.turns * args.repeats,
        "ok": sum(r["ok"] for r in repeats), "errors": len(errors),
        "error_samples": errors[:5], "model_load_s": round(load_s, 2),
        "latency_s": {k: _median(repeats, k) for k in ("p50", "p99", "mean", "max")},
        "wall_s": _median(repeats, "wall_s"),
        "throughput_req_per_s": round(len(chatting) * args.turns / _median(repeats, "wall_s"), 3),
        "repeats": repeats,
        "rate_limit": CHAT_LIMIT,
        "tool_calls": tool_calls,
    }
    if not (args.no_model_baseline or settings.backend_url):
        result["decoder"] = _decoder_stats(service)
    if args.handoff:
        result["handoff"] = desk
    runs = json.loads(RESULTS.read_text()).get("runs", {}) if RESULTS.is_file() else {}
    key = "no_model_baseline" if args.no_model_baseline else (
        "backend_url" if settings.backend_url else f"local_backend_batch{settings.dialog_max_batch}")
    runs[key + ("_handoff" if args.handoff else "")] = result
    write_results(RESULTS, "load", runs=runs)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
