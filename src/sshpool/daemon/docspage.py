"""The /docs page: Swagger UI from the daemon's own static files (nothing from a CDN).

The spec itself needs the token, so the page asks for it in a small form of its own (no
``window.prompt``, which a headless browser cannot answer) and keeps it in this tab only. A token
the daemon refuses (401, for the spec or for a call made from the page) is forgotten and asked for
again with the reason; "Change token" re-enters it at any time.
"""

from typing import Final

__all__ = ["DOCS_HTML"]

DOCS_HTML: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sshpoold API</title>
<link rel="icon" type="image/png" href="/static/favicon-32x32.png">
<link rel="stylesheet" href="/static/swagger-ui.css">
<style>
#sshpool-auth { font-family: sans-serif; max-width: 1420px; margin: 0 auto; padding: 12px 20px; }
#sshpool-auth input { width: 28em; padding: 4px; }
#sshpool-why { color: #b00020; margin-left: 1em; }
</style>
</head>
<body>
<div id="sshpool-auth">
<form id="sshpool-token" hidden>
<label for="sshpool-token-input">sshpoold token (SSHPOOL_TOKEN or &lt;state-dir&gt;/token):</label>
<input id="sshpool-token-input" type="password" autocomplete="off" spellcheck="false">
<button id="sshpool-token-use" type="submit">Use this token</button>
<span id="sshpool-why" role="alert"></span>
</form>
<button id="sshpool-change-token" type="button" hidden>Change token</button>
</div>
<div id="swagger-ui"></div>
<script src="/static/swagger-ui-bundle.js"></script>
<script>
const KEY = "sshpool-token";
const form = document.getElementById("sshpool-token");
const input = document.getElementById("sshpool-token-input");
const why = document.getElementById("sshpool-why");
const change = document.getElementById("sshpool-change-token");
let token = sessionStorage.getItem(KEY) || "";

function ask(reason) {
  sessionStorage.removeItem(KEY);
  why.textContent = reason;
  form.hidden = false;
  change.hidden = true;
  input.value = "";
  input.focus();
}

async function load() {
  let res;
  try {
    res = await fetch("/openapi.json", { headers: { Authorization: "Bearer " + token } });
  } catch (err) {
    ask("Cannot reach sshpoold (" + err + "); is it still running?");
    return;
  }
  if (res.status === 401) {
    ask("The daemon refused that token (401); enter it again.");
    return;
  }
  if (!res.ok) {
    ask("The daemon answered " + res.status + " for /openapi.json.");
    return;
  }
  const spec = await res.json();
  sessionStorage.setItem(KEY, token);
  form.hidden = true;
  why.textContent = "";
  change.hidden = false;
  if (window.ui) {
    return;  // a token entered again: the page stays as it was, the next call carries the new one
  }
  window.ui = SwaggerUIBundle({
    spec: spec,
    dom_id: "#swagger-ui",
    requestInterceptor: (req) => { req.headers["Authorization"] = "Bearer " + token; return req; },
    responseInterceptor: (res) => {
      if (res.status === 401) {
        ask("The daemon refused the token (401); enter it again, then repeat the call.");
      }
      return res;
    },
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  token = input.value.trim();
  load();
});
change.addEventListener("click", () => ask(""));
if (token) { load(); } else { ask(""); }
</script>
</body>
</html>
"""
