"""`shopmind serve`: the API, the operator console and the widget demo on one port."""

from __future__ import annotations

import typer
from rich.console import Console

from knowledge.settings import Settings

console = Console()


def demo_customer(settings: Settings) -> str:
    """A customer with a pending order, to try the widget with (empty if there is none)."""
    from knowledge import warehouse

    if not settings.warehouse.is_file():
        return ""
    con = warehouse.connect(settings.warehouse)
    try:
        row = con.execute("SELECT u.email, u.user_id, min(o.order_id) FROM users u JOIN orders o "
                          "USING (user_id) WHERE o.status = 'pending' AND u.email IS NOT NULL "
                          "GROUP BY ALL ORDER BY u.email LIMIT 1").fetchone()
    finally:
        con.close()
    return f"email {row[0]} (user id {row[1]}), pending order {row[2]}" if row else ""


def serve(settings: Settings) -> None:
    """Start the app on settings.host:settings.port and print where everything is."""
    import uvicorn

    from assistant.api.app import create_app
    from assistant.api.service import ChatService

    service = ChatService(settings)
    app = create_app(service)
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold green]shopmind is running:[/] {url}\n"
                  f"  operator console  {url}/console/  (password = operator token below)\n"
                  f"  customer widget   {url}/demo  (demo shop page with the widget)\n"
                  f"  REST API          {url}/docs\n"
                  f"  operator token    {service.operator_token}\n"
                  f"  dialog model      {service.backend_name()}\n"
                  f"  try the widget as {demo_customer(settings) or '(no customer with an order)'}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def serve_command(ctx: typer.Context) -> None:
    """Start the assistant: REST API, operator console and customer widget demo."""
    serve(ctx.obj)
