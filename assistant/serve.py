"""`shopmind serve`: the API, the operator console and the widget demo on one port."""

from __future__ import annotations

import typer
from rich.console import Console

from knowledge.settings import Settings

console = Console()


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
                  f"  dialog model      {service.backend_name()}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def serve_command(ctx: typer.Context) -> None:
    """Start the assistant: REST API, operator console and customer widget demo."""
    serve(ctx.obj)
