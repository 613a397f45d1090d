"""The /docs page: Swagger UI from the daemon's own static files (nothing from a CDN)."""

from typing import Final

__all__ = ["DOCS_HTML"]

DOCS_HTML: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sshpoold API</title>
<link rel="icon" type="image/png" href="/static/favicon-32x32.png">
<link rel="stylesheet" href="/static/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger-ui-bundle.js"></script>
<script>
// The spec itself needs the token: ask once per tab and keep it in this tab only.
let token = sessionStorage.getItem("sshpool-token");
if (!token) {
  token = window.prompt("sshpoold token (SSHPOOL_TOKEN or <state-dir>/token)") || "";
  sessionStorage.setItem("sshpool-token", token);
}
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  requestInterceptor: (req) => { req.headers["Authorization"] = "Bearer " + token; return req; },
});
</script>
</body>
</html>
"""
