"""The /u/{token} endpoint: a GET shows a page and changes nothing (link scanners only GET);
a POST unsubscribes (RFC 8058 `List-Unsubscribe=One-Click`, or the page's button) or undoes it."""

from __future__ import annotations

import html
from typing import Any

from beacon.shared.observability import logger
from beacon.shared.tokens import UNSUBSCRIBE, InvalidToken, TokenData
from beacon.web.pages import not_found_page, page
from beacon.web.request import form_fields, parse, path_param
from beacon.wiring import signer, subscription_deps, unsubscribe_view


def _company(account_id: str) -> str:
    return unsubscribe_view().company(account_id) or "this sender"


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


_BLOCKED_WHY = {
    "complaint": "you reported one of its emails as spam",
    "bounce": "emails to this address could not be delivered",
    "manual": "the sender stopped mailing this address",
}


def _blocked_page(company: str, reason: str) -> dict[str, Any]:
    """Suppressed for a reason other than the person's unsubscribe: no undo here (it would do nothing)."""
    c = html.escape(company)
    why = _BLOCKED_WHY.get(reason, "of an earlier request")
    return page("You get no emails",
                f"<h1>You get no emails from {c}</h1><p>{c} sends you nothing because {html.escape(why)}.</p>"
                f"<p>To receive its emails again, contact {c}.</p>")


def _status_page(data: TokenData) -> dict[str, Any]:
    """The page for where the person stands: asked to unsubscribe, unsubscribed (with an undo),
    or suppressed for another reason (no undo)."""
    company = _company(data.account_id)
    reason = unsubscribe_view().suppression_reason(data.account_id, data.recipient_id)
    if reason is None:
        return _ask_page(company)
    return _done_page(company) if reason == "unsubscribe" else _blocked_page(company, reason)


def _back_page(company: str) -> dict[str, Any]:
    c = html.escape(company)
    return page("You are subscribed again",
                f"<h1>Welcome back</h1><p>You will get emails from {c} again.</p>"
                + _form("unsubscribe", "Unsubscribe"))


def _action(event: dict[str, Any]) -> str | None:
    fields = form_fields(event)
    if fields.get("List-Unsubscribe") == ["One-Click"]:
        return "one-click"
    value = (fields.get("action") or [""])[0]
    return value if value in ("unsubscribe", "resubscribe") else None


def handle(event: dict[str, Any]) -> dict[str, Any]:
    try:
        data: TokenData = signer().verify(path_param(event, "token"), UNSUBSCRIBE)
    except InvalidToken:
        return not_found_page()
    request = parse(event)
    method = request.method
    try:
        if method != "POST":  # GET, HEAD, anything else: show the page, change nothing
            return _status_page(data)
        action = _action(event)
        if action is None:
            return page("Nothing changed", "<h1>Nothing changed</h1><p>The request was not understood.</p>", 400)
        from beacon.audience import subscriptions  # only a change needs the writes

        deps = subscription_deps()
        if action == "one-click":
            subscriptions.unsubscribe(deps, data, via="one-click", requester=request.requester())
            return {"statusCode": 200, "headers": {"content-type": "text/plain; charset=utf-8"},
                    "body": "You are unsubscribed.\n"}
        if action == "unsubscribe":
            subscriptions.unsubscribe(deps, data, via="page", requester=request.requester())
            return _done_page(_company(data.account_id))
        if subscriptions.resubscribe(deps, data, requester=request.requester()):
            return _back_page(_company(data.account_id))
        return _status_page(data)  # nothing to undo: the page as it stands
    except Exception:
        logger.exception("unsubscribe endpoint failed", extra={"method": method})
        return page("Please try again", "<h1>Something went wrong</h1>"
                    "<p>Your request was not saved. Please try again in a minute.</p>", 503)
