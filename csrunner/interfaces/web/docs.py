"""/docs (Swagger UI) and /redoc from assets the service serves itself: the pages work offline
and under a CSP without inline script. The assets come from the `fastapi-offline` package."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"

SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API docs</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css">
<link rel="icon" href="/docs-assets/favicon.png">
</head><body><div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body></html>"""

REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="/docs-assets/favicon.png">
</head><body><redoc spec-url="/openapi.json"></redoc>
<script src="/docs-assets/redoc.standalone.js"></script>
</body></html>"""


def install(app: FastAPI) -> None:
    app.mount("/docs-assets", StaticFiles(directory=str(ASSETS)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(SWAGGER.format(title=app.title))

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(REDOC.format(title=app.title))
