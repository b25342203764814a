"""`shopmind serve`: the REST API, the operator console and the widget demo on one port.

This module composes the server: the REST app (``assistant/api/app.py``), the customer widget
and demo shop page (``ui/web/``) and the Gradio console (``ui/console.py``) mounted on it.
With ``retrain_schedule`` set it also runs `shopmind retrain` on that schedule in a background
thread (``finetune/retrain_schedule.py``).
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from knowledge.settings import Settings

if TYPE_CHECKING:  # the web stack loads when the server starts, not with every CLI command
    from fastapi import FastAPI

    from assistant.api.service import ChatService

terminal = Console()


def build_app(service: ChatService, console: bool = True) -> FastAPI:
    """The REST API with the widget (``/widget``, ``/demo``) and, unless ``console`` is False,
    the operator console (``/console``, operator token as password)."""
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from assistant.api.app import create_app

    app = create_app(service)
    web = resources.files("ui").joinpath("web")
    app.mount("/widget", StaticFiles(directory=str(web)), name="widget")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/console/" if console else "/docs")

    @app.get("/demo", include_in_schema=False)
    def demo() -> RedirectResponse:
        return RedirectResponse("/widget/demo_shop.html")

    if console:
        import gradio as gr

        from ui.console import build_console

        app = gr.mount_gradio_app(
            app, build_console(service), path="/console",
            auth=lambda user, password: service.is_operator(password),
            auth_message="Log in with any user name and the operator token as password "
            "(printed by `shopmind serve`).")
    return app


def _describe(customer: tuple[str, str, str] | None) -> str:
    if customer is None:
        return "(no customer with a pending order in this shop)"
    email, user_id, order = customer
    return f"email {email} (user id {user_id}), pending order {order}"


def serve(settings: Settings) -> None:
    """Start the app on settings.host:settings.port and print where everything is."""
    import uvicorn

    from assistant.api.service import ChatService
    from knowledge.customer_records import demo_customer

    service = ChatService(settings)
    app = build_app(service)
    if settings.retrain_schedule:
        from finetune.retrain_schedule import RetrainScheduler

        RetrainScheduler(settings, log=terminal.print).start()
    url = f"http://{settings.host}:{settings.port}"
    terminal.print(f"[bold green]shopmind is running:[/] {url}\n"
                  f"  operator console  {url}/console/  (password = operator token below)\n"
                  f"  customer widget   {url}/demo  (demo shop page with the widget)\n"
                  f"  REST API          {url}/docs\n"
                  f"  operator token    {service.operator_token}\n"
                  f"  dialog model      {service.backend_name()}\n"
                  f"  try the widget as {_describe(demo_customer(settings))}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def serve_command(ctx: typer.Context) -> None:
    """Start the assistant: REST API, operator console and customer widget demo."""
    serve(ctx.obj)
