"""The /u/{token} endpoint: a GET shows a page and changes nothing (link scanners only GET);
a POST unsubscribes (RFC 8058 `List-Unsubscribe=One-Click`, or the page's button) or undoes it."""

from __future__ import annotations

import base64
import html
from typing import Any
from urllib.parse import parse_qs

from beacon import subscriptions
from beacon.composition import bound, signer, subscription_deps
from beacon.observability import logger
from beacon.pages import not_found_page, page
from beacon.tokens import UNSUBSCRIBE, InvalidToken, TokenData

MAX_BODY = 64 * 1024


def _company(account_id: str) -> str:
    from beacon.db.accounts import AccountRepo

    bound()
    account = AccountRepo().get(account_id)
    return account.company if account else "this sender"


def _form(action: str, label: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return (f'<form method="post"><input type="hidden" name="action" value="{action}">'
            f"<button type=\"submit\"{cls}>{html.escape(label)}</button></form>")


def _ask_page(company: str) -> dict[str, Any]:
    c = html.escape(company)
    return page(f"Unsubscribe from {company}",
                f"<h1>Unsubscribe from {c}?</h1><p>You will get no more emails from {c}.</p>"
                + _form("unsubscribe", "Unsubscribe"))


def _done_page(company: str) -> dict[str, Any]:
    c = html.escape(company)
    return page("You are unsubscribed",
                f"<h1>You are unsubscribed</h1><p>{c} will send you no more emails.</p>"
                "<p>Clicked by mistake?</p>" + _form("resubscribe", "Subscribe again", "secondary"))


def _back_page(company: str) -> dict[str, Any]:
    c = html.escape(company)
    return page("You are subscribed again",
                f"<h1>Welcome back</h1><p>You will get emails from {c} again.</p>"
                + _form("unsubscribe", "Unsubscribe"))


def _body(event: dict[str, Any]) -> str:
    raw = event.get("body") or ""
    if len(raw) > MAX_BODY * 2:
        return ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw).decode("utf-8", "replace")
        except ValueError:
            return ""
    return str(raw)


def _action(event: dict[str, Any]) -> str | None:
    body = _body(event)
    if "List-Unsubscribe=One-Click" in body:
        return "one-click"
    fields = parse_qs(body, max_num_fields=20)
    value = (fields.get("action") or [""])[0]
    return value if value in ("unsubscribe", "resubscribe") else None


def handle(event: dict[str, Any]) -> dict[str, Any]:
    token = (event.get("pathParameters") or {}).get("token") or ""
    try:
        data: TokenData = signer().verify(token, UNSUBSCRIBE)
    except InvalidToken:
        return not_found_page()
    method = (((event.get("requestContext") or {}).get("http") or {}).get("method") or "GET").upper()
    deps = subscription_deps()
    try:
        if method != "POST":
            company = _company(data.account_id)
            if subscriptions.is_unsubscribed(deps, data):
                return _done_page(company)
            return _ask_page(company)
        action = _action(event)
        if action is None:
            return page("Nothing changed", "<h1>Nothing changed</h1><p>The request was not understood.</p>", 400)
        if action == "one-click":
            subscriptions.unsubscribe(deps, data, via="one-click")
            return {"statusCode": 200, "headers": {"content-type": "text/plain; charset=utf-8"},
                    "body": "You are unsubscribed.\n"}
        if action == "unsubscribe":
            subscriptions.unsubscribe(deps, data, via="page")
            return _done_page(_company(data.account_id))
        subscriptions.resubscribe(deps, data)
        return _back_page(_company(data.account_id))
    except Exception:
        logger.exception("unsubscribe endpoint failed", extra={"method": method})
        return page("Please try again", "<h1>Something went wrong</h1>"
                    "<p>Your request was not saved. Please try again in a minute.</p>", 503)
