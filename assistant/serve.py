"""`shopmind serve`: the API, the operator console and the widget demo on one port."""

from __future__ import annotations

import typer
from rich.console import Console

from knowledge.settings import Settings

console = Console()


def customers_with_pending_orders(settings: Settings, limit: int | None = None,
                                  ) -> list[tuple[str, str, str]]:
    """(email, user id, first pending order) of the customers with an email and a pending
    order, by email (the first ``limit``, or all); empty when the warehouse is not built."""
    from knowledge import warehouse

    if not settings.warehouse.is_file():
        return []
    con = warehouse.connect(settings.warehouse)
    try:
        return [tuple(row) for row in con.execute(
            "SELECT u.email, u.user_id, min(o.order_id) FROM users u JOIN orders o "
            "USING (user_id) WHERE o.status = 'pending' AND u.email IS NOT NULL "
            "GROUP BY ALL ORDER BY u.email LIMIT ?", [limit]).fetchall()]
    finally:
        con.close()


def demo_customer(settings: Settings) -> tuple[str, str, str] | None:
    """(email, user id, pending order) of a customer to try the assistant with, if any."""
    return next(iter(customers_with_pending_orders(settings, limit=1)), None)


def _describe(customer: tuple[str, str, str] | None) -> str:
    if customer is None:
        return "(no customer with a pending order in this shop)"
    email, user_id, order = customer
    return f"email {email} (user id {user_id}), pending order {order}"


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
                  f"  try the widget as {_describe(demo_customer(settings))}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def serve_command(ctx: typer.Context) -> None:
    """Start the assistant: REST API, operator console and customer widget demo."""
    serve(ctx.obj)
