"""Real-browser tests of the support desk: the widget's "talk to a person", an operator's reply
arriving live, the console's Inbox, verified customers, and shopmind.track (recorded, and moving
the customer's next recommendation).

Headless Chromium (Debian's) driven by Playwright against the real app in a background thread;
the dialog model is a SCRIPTED test model (tests/scripted_model.py, not a language model) that
counts its calls, or asks recommend_products for gift ideas. Skipped, with the reason, when
Chromium or playwright is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from langchain_core.messages import ToolMessage
from pydantic import SecretStr
from scripted_model import ScriptedChatModel, call, say

from assistant.signing import customer_signature
from knowledge import warehouse
from knowledge.customer_records import demo_customer
from tests.browser_helpers import CHROMIUM, NO_CHROMIUM, chromium, served
from tests.recommend_shop import trained_themed_shop
from tests.shops import private_copy

TOKEN = "desk-browser-token"
SECRET = "desk-browser-secret"
OP = {"Authorization": f"Bearer {TOKEN}"}

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.is_file():
    pytest.skip(NO_CHROMIUM, allow_module_level=True)

SHOP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>signed shop</title></head>
<body><h1>My account</h1><script src="/widget/widget.js" data-shopmind-customer="{customer}"
data-shopmind-signature="{signature}" defer></script></body></html>"""


class Counting:
    calls = 0

    def script(self, messages):
        Counting.calls += 1
        return say("the assistant answers")


def gift_ideas(messages):
    """Any request: recommend_products by query, as a customer may (no user id); then the
    result's headline, which lists the products."""
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return say(re.search(r'"headline": "([^"]*)"', last.content).group(1))
    return call("recommend_products", query="gift", k=3)


@contextmanager
def serving(shop, script) -> Iterator[str]:
    """The real app (API, widget, console) for ``shop`` with a scripted model, plus the shop's
    own page of a signed-in customer (/signed-shop); yields its URL."""
    from fastapi.responses import HTMLResponse

    from assistant.api.service import ChatService
    from assistant.serve import build_app

    app = build_app(ChatService(shop, model=ScriptedChatModel(script=script)))

    @app.get("/signed-shop")
    def signed_shop(customer: str, signature: str) -> HTMLResponse:
        return HTMLResponse(SHOP_PAGE.format(customer=customer, signature=signature))

    with served(app) as url:
        yield url


@pytest.fixture(scope="module")
def server(small_shop, tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_desk")
    shop = private_copy(small_shop, root, warehouse_dir=root, operator_token=TOKEN,
                        customer_signing_secret=SecretStr(SECRET))
    with serving(shop, Counting().script) as url:
        yield {"url": url, "shop": shop, "customer": demo_customer(shop)[1]}


@pytest.fixture(scope="module")
def themed_server(tmp_path_factory):
    """The themed shop (tests/recommend_shop.py), trained: customer u000 buys lanterns only."""
    shop = trained_themed_shop(tmp_path_factory.mktemp("browser_themed"), operator_token=TOKEN,
                               customer_signing_secret=SecretStr(SECRET))
    with serving(shop, gift_ideas) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _signed_page(browser, url: str, customer: str):
    page = browser.new_page()
    page.goto(f"{url}/signed-shop?customer={customer}"
              f"&signature={customer_signature(SECRET, customer)}")
    return page


def _session_thread(page) -> str:
    return page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('shopmind-session'))"
                         ".map(k => JSON.parse(sessionStorage.getItem(k)).thread_id)[0]")


def _thread(server, thread_id: str) -> dict:
    return httpx.get(f"{server['url']}/v1/threads/{thread_id}", headers=OP).json()


def _ask_for_a_person(server, browser, status: str):
    """A customer on the demo page opens the widget and asks for a person; (page, thread id)
    once the widget shows ``status``."""
    page = browser.new_page()
    page.goto(server["url"] + "/demo")
    page.locator("#sm-launch").click()
    page.locator("#sm-person").click()
    page.locator("#sm-status", has_text=status).wait_for(timeout=15_000)
    return page, _session_thread(page)


def test_a_customer_asks_for_a_person_who_answers_in_the_widget(server, browser):
    page, thread_id = _ask_for_a_person(server, browser, "number 1 in line")
    calls = Counting.calls
    page.locator("#sm-input").fill("is anyone there?")
    page.locator("#sm-input").press("Enter")
    url = f"{server['url']}/v1/threads/{thread_id}"
    assert httpx.post(f"{url}/take", json={"operator": "Ana"}, headers=OP).status_code == 200
    assert httpx.post(f"{url}/reply", json={"operator": "Ana", "message": "Hi, Ana here."},
                      headers=OP).status_code == 200
    page.locator(".sm-person", has_text="Hi, Ana here.").wait_for(timeout=30_000)
    assert "Ana (support team)" in page.locator(".sm-person").first.inner_text()
    page.locator("#sm-status", has_text="talking with Ana").wait_for(timeout=15_000)
    assert page.locator(".sm-bot", has_text="the assistant answers").count() == 0
    assert Counting.calls == calls  # the model stayed silent
    httpx.post(f"{url}/resolve", headers=OP)
    page.locator(".sm-person", has_text="closed by our support team").wait_for(timeout=30_000)
    assert _thread(server, thread_id)["status"] == "resolved"
    page.close()


def test_the_operator_sees_and_answers_the_thread_in_the_console_inbox(server, browser):
    customer, thread_id = _ask_for_a_person(server, browser, "in line")
    page = browser.new_page()
    page.goto(server["url"] + "/console/")
    page.get_by_label("username").fill("operator")
    page.get_by_label("password").fill(TOKEN)
    page.get_by_role("button", name="Login").click()
    page.get_by_role("tab", name="Inbox").click()
    page.locator("#inbox-table").get_by_text(thread_id).filter(visible=True).first.click(
        timeout=30_000)
    page.locator("#inbox-status", has_text="waiting_for_human").wait_for(timeout=15_000)
    page.locator("#inbox-take").click()
    page.locator("#inbox-status", has_text="held by operator").wait_for(timeout=15_000)
    page.locator("#inbox-reply textarea").fill("Hello from the console")
    page.locator("#inbox-send").click()
    customer.locator(".sm-person", has_text="Hello from the console").wait_for(timeout=30_000)
    page.close()
    customer.close()


def test_a_verified_customer_skips_the_email_step_and_a_forged_one_is_anonymous(server, browser):
    customer = server["customer"]
    for signature, bound in ((customer_signature(SECRET, customer), customer),
                             (customer_signature("forged", customer), None)):
        page = browser.new_page()
        page.goto(f"{server['url']}/signed-shop?customer={customer}&signature={signature}")
        page.locator("#sm-launch").click()
        page.locator("#sm-input").fill("hello")
        page.locator("#sm-input").press("Enter")
        page.locator(".sm-bot", has_text="the assistant answers").wait_for(timeout=30_000)
        assert _thread(server, _session_thread(page))["customer_id"] == bound
        page.close()


def test_track_records_a_view_for_the_signed_in_customer(server, browser):
    customer = server["customer"]
    con = warehouse.connect(server["shop"].warehouse)
    product = con.execute("SELECT product_id FROM products ORDER BY product_id DESC LIMIT 1"
                          ).fetchone()[0]
    con.close()
    page = _signed_page(browser, server["url"], customer)
    page.wait_for_function("window.shopmind && window.shopmind.track")
    assert page.evaluate(f"shopmind.track('view', {{product_id: '{product}'}})") is True
    con = warehouse.connect(server["shop"].warehouse)
    seen = con.execute("SELECT count(*) FROM events WHERE user_id = ? AND product_id = ? AND "
                       "event_type = 'view' AND session_id IS NOT NULL",
                       [customer, product]).fetchone()[0]
    con.close()
    assert seen == 1
    page.goto(server["url"] + "/demo")  # no signed-in customer: nothing is sent
    page.wait_for_function("window.shopmind && window.shopmind.track")
    assert page.evaluate(f"shopmind.track('view', {{product_id: '{product}'}})") is False
    page.close()


def _ask(page, text: str, answers: int) -> str:
    """Send ``text`` in the widget; the text of the ``answers``-th answer, once it is there."""
    page.locator("#sm-input").fill(text)
    page.locator("#sm-input").press("Enter")
    answer = page.locator(".sm-bot", has_text="Top 3 products").nth(answers - 1)
    answer.wait_for(timeout=60_000)
    return answer.inner_text()


@pytest.mark.slow  # trains the themed shop's recommender, with the MiniLM text model
def test_a_track_call_changes_the_customers_next_recommendation(themed_server, browser):
    page = _signed_page(browser, themed_server, "u000")
    page.locator("#sm-launch").click()
    before = _ask(page, "any gift ideas?", answers=1)
    assert "LANTERN" in before and "MUG" not in before  # u000 has only ever bought lanterns
    assert page.evaluate("shopmind.track('view', {product_id: 'M1'})") is True
    after = _ask(page, "any other gift ideas?", answers=2)
    assert after.startswith("Top 3 products for u000 and matching 'gift': SPOTTY TEA MUG")
    page.close()
