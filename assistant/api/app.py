"""The REST API as a FastAPI app: routes, CORS, rate limits, error bodies. The server
(``assistant/serve.py``) mounts the customer widget and the operator console on it."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from slowapi.errors import RateLimitExceeded
from slowapi.middleware import SlowAPIMiddleware

from assistant.api.desk_routes import router as desk_router
from assistant.api.routes import limiter, router
from assistant.api.service import ChatService


def _validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
    return JSONResponse({"detail": f"invalid request: {problems}"}, status_code=422)


def _rate_limited(request: Request, err: RateLimitExceeded) -> JSONResponse:
    return JSONResponse({"detail": f"too many requests ({err.detail}); wait a moment and retry"},
                        status_code=429)


def create_app(service: ChatService) -> FastAPI:
    """The REST API over ``service`` (``assistant.serve.build_app`` mounts the console and the
    widget on it)."""
    app = FastAPI(title="shopmind", version="0.1.0",
                  description="Assistant for an online shop: chat (JSON or SSE), threads, "
                  "behaviour events. Operators: Bearer token; customers: signed session.")
    app.state.service = service
    limiter.reset()  # counts start at zero for each app (one app per process)
    app.state.limiter = limiter
    app.add_middleware(SlowAPIMiddleware)
    # the widget runs on the shop's own pages: cross-origin calls from the shop's origins
    # (settings.cors_origins; no cookies are used)
    app.add_middleware(CORSMiddleware, allow_origins=service.settings.cors_origins,
                       allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type", "X-Session", "Authorization"])
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RateLimitExceeded, _rate_limited)
    app.include_router(router)
    app.include_router(desk_router)
    return app
