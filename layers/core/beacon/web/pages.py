"""The few HTML pages Beacon shows recipients (no template engine: this is a cold-start path)."""

from __future__ import annotations

import html
from typing import Any

_STYLE = (
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f7f9;color:#1f2933;"
    "display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}"
    "main{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:32px 40px;"
    "max-width:460px;text-align:center}h1{font-size:1.4rem;margin:0 0 12px}p{line-height:1.5}"
    "button{font-size:1rem;padding:10px 22px;border-radius:8px;border:0;background:#1f6feb;color:#fff;"
    "cursor:pointer}button.secondary{background:#e4e7eb;color:#1f2933}"
)


def page(title: str, body_html: str, status: int = 200) -> dict[str, Any]:
    doc = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<meta name=\"robots\" content=\"noindex,nofollow\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body_html}</main></body></html>"
    )
    return {
        "statusCode": status,
        "headers": {"content-type": "text/html; charset=utf-8", "cache-control": "no-store",
                    "x-robots-tag": "noindex", "referrer-policy": "no-referrer",
                    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"},
        "body": doc,
    }


def not_found_page() -> dict[str, Any]:
    return page("Link not found", "<h1>This link is not valid</h1>"
                "<p>It may have been copied incompletely. Nothing was changed.</p>", 404)
