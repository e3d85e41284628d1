"""The interactive API documentation, Swagger UI served from this site (no CDN)."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

from cadenza.web.errors import page_router

DOCS_PATH = "/api/v1/docs"
OPENAPI_PATH = "/api/v1/openapi.json"
SWAGGER = "/static/vendor/swagger-ui-5.35.0"

# No inline script or style: the page lives under the site's one strict policy.
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Cadenza API</title>
<link rel="stylesheet" href="{SWAGGER}.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{OPENAPI_PATH}"></div>
<script src="{SWAGGER}-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""

router = page_router(public=True)


@router.get(DOCS_PATH)
def api_docs() -> HTMLResponse:
    """Swagger UI over the API's OpenAPI description (public: it holds no data)."""
    return HTMLResponse(PAGE)
