"""The public signup pages (the `forms` function): light on cold start (plain botocore, no Jinja2,
PynamoDB, pydantic or powertools on the way), every value escaped.

GET|HEAD /forms/{form_id}   the hosted form
POST /forms/{form_id}       a signup: the page's urlencoded (or multipart) body, the same from
                            `embed_html` on any website, or JSON (CORS: any origin, no credentials).
                            One answer for every address, whatever its state (beacon.audience.signup)
OPTIONS /forms/{form_id}    the CORS preflight of a JSON POST
GET|HEAD /confirm/{token}   a page with a Confirm button; changes nothing (link scanners fetch it)
POST /confirm/{token}       confirms, once (beacon.audience.consent)
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import urlsplit

from beacon.audience import consent, signup
from beacon.db.forms import FormRecord
from beacon.shared.ids import is_id
from beacon.shared.observability import logger
from beacon.web.form_markup import form_html
from beacon.web.pages import not_found_page, page
from beacon.web.request import MAX_BODY, body_text, form_fields, parse, path_param
from beacon.wiring import form_repo, queue, settings, signer, signup_store

MAX_FIELDS = 40  # fields of one POST that are read (a form has at most 15 of its own)
CORS = {"access-control-allow-origin": "*", "vary": "origin"}
CHECK_INBOX = ("Check your inbox: if this address can be subscribed, an email with a link to confirm is on its "
               "way. Nothing happens until the link is used.")
_FORM_STYLE = ("<style>form.beacon-signup{text-align:left}label{font-weight:600}input[type=email],input[type=text]"
               "{width:100%;box-sizing:border-box;font-size:1rem;padding:8px 10px;border:1px solid #cbd2d9;"
               "border-radius:6px;margin-top:4px}.consent{font-size:.9rem;color:#52606d}.error{color:#b42318;"
               "font-weight:600}</style>")


# ----------------------------------------------------------------------------- answers
def _wants_json(event: dict[str, Any]) -> bool:
    headers = parse(event).headers
    return headers.get("content-type", "").lower().startswith("application/json") or (
        "application/json" in headers.get("accept", "").lower() and "text/html" not in headers.get("accept", ""))


def _json(status: int, body: Any, extra: dict[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json", "cache-control": "no-store",
                                              **CORS, **(extra or {})}, "body": json.dumps(body)}


def _error(event: dict[str, Any], status: int, code: str, message: str, title: str,
           details: Any = None, extra: dict[str, str] | None = None) -> dict[str, Any]:
    if _wants_json(event):
        payload: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            payload["details"] = details
        return _json(status, {"error": payload}, extra)
    answer = page(title, f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>", status)
    answer["headers"].update({**CORS, **(extra or {})})
    return answer


def _form_page(form: FormRecord, company: str, action: str, status: int = 200, values: dict[str, Any] | None = None,
               error: str = "") -> dict[str, Any]:
    body = (_FORM_STYLE + f"<h1>{html.escape(form.name)}</h1><p>Emails from {html.escape(company)}.</p>"
            + (f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "")
            + form_html(form, action, values))
    answer = page(f"{form.name} \u2013 {company}", body, status)
    targets = "'self'"
    if form.success_url:  # a browser holds a form's redirect to its CSP form-action too
        parts = urlsplit(form.success_url)
        targets += f" {parts.scheme}://{parts.netloc}"
    answer["headers"]["content-security-policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; form-action {targets}; frame-ancestors 'none'")
    answer["headers"].update(CORS)
    return answer


def _accepted(event: dict[str, Any], form: FormRecord) -> dict[str, Any]:
    """The one answer to every accepted signup, whoever the address belongs to (and to the honeypot)."""
    if _wants_json(event):
        return _json(200, {"status": "check_your_inbox", "message": CHECK_INBOX})
    if form.success_url:
        return {"statusCode": 303, "headers": {"location": form.success_url, "cache-control": "no-store", **CORS},
                "body": ""}
    answer = page("Check your inbox", "<h1>Almost done: check your inbox</h1><p>If this address can be subscribed, "
                  "an email with a link to confirm is on its way. Nothing happens until the link is used.</p>")
    answer["headers"].update(CORS)
    return answer


# ----------------------------------------------------------------------------- /forms/{form_id}
def _values(event: dict[str, Any]) -> dict[str, Any] | None:
    """The submitted fields (name -> first value); None if the body is too large to read."""
    raw = event.get("body") or ""
    if not isinstance(raw, str) or len(raw) > MAX_BODY * (4 / 3 if event.get("isBase64Encoded") else 1) + 4:
        return None
    if parse(event).headers.get("content-type", "").lower().startswith("application/json"):
        try:
            doc = json.loads(body_text(event) or "null")
        except ValueError:
            return {"__malformed__": True}
        if not isinstance(doc, dict) or len(doc) > MAX_FIELDS:
            return {"__malformed__": True}
        return doc
    return {name: found[0] for name, found in form_fields(event, MAX_FIELDS).items() if found}


def _signup(event: dict[str, Any], form_id: str) -> dict[str, Any]:
    request = parse(event)
    if request.method == "OPTIONS":
        return {"statusCode": 204, "headers": {**CORS, "access-control-allow-methods": "POST, OPTIONS",
                                               "access-control-allow-headers": "content-type",
                                               "access-control-max-age": "86400"}, "body": ""}
    form = form_repo().get(form_id) if is_id(form_id) else None
    if form is None:
        if request.method == "POST":
            return _error(event, 404, "not_found", "This signup form does not exist (any more).", "Form not found")
        return not_found_page()
    account = signup_store().account(form.account_id)
    company = account[0] if account else ""
    action = f"/forms/{form.form_id}"
    if request.method != "POST":
        return _form_page(form, company, action)
    values = _values(event)
    if values is None:
        return _error(event, 413, "payload_too_large", f"The form is larger than {MAX_BODY // 1024} KB.",
                      "Too much data")
    if values.get("__malformed__"):
        return _error(event, 400, "malformed_json", "Send one JSON object of the form's fields.", "Not understood")
    shown = {k: v for k, v in values.items() if isinstance(v, str)}
    try:
        submission = signup.read_submission(form, values)
    except signup.Invalid as exc:
        if _wants_json(event):
            return _error(event, 422, "validation_error", str(exc), "", [{"field": exc.field, "message": exc.message}])
        return _form_page(form, company, action, 422, shown, str(exc))
    except signup.FormChanged as exc:
        if _wants_json(event):
            return _error(event, 409, "form_changed", str(exc), "")
        return _form_page(form, company, action, 409, shown, str(exc))
    try:
        signup.accept(form, submission, request.requester(), _base_url(event), signup_store(), queue(),
                      settings().signup_queue_url)
    except signup.TooManySignups as exc:
        return _error(event, 429, "too_many_signups", str(exc), "Please try again later",
                      extra={"retry-after": "3600"})
    return _accepted(event, form)


def _base_url(event: dict[str, Any]) -> str:
    """Where the confirm link points: the configured public domain, or this API's own."""
    configured = settings().public_base_url
    if configured:
        return configured
    context = event.get("requestContext") or {}
    domain = str(context.get("domainName") or "localhost")
    proto = parse(event).headers.get("x-forwarded-proto") or (
        "http" if domain.startswith(("127.", "localhost")) else "https")
    return f"{proto}://{domain}"


# ----------------------------------------------------------------------------- /confirm/{token}
def _confirm_page(outcome: consent.Outcome) -> dict[str, Any]:
    company = html.escape(outcome.company or "the sender")
    if outcome.state == "pending":
        return page("Confirm your subscription",
                    f"<h1>Confirm your subscription</h1><p>Subscribe <strong>{html.escape(outcome.email)}</strong> "
                    f"to emails from {company}?</p><form method=\"post\"><button type=\"submit\">Confirm</button>"
                    "</form><p>Not you? Just close this page: nothing happens unless you confirm.</p>")
    if outcome.state in ("confirmed", "already"):
        return page("You are subscribed", f"<h1>You are subscribed</h1><p>Thank you: {company} will send "
                    f"{html.escape(outcome.email)} its emails. Every email has a link to unsubscribe.</p>")
    if outcome.state == "blocked":
        return page("Not subscribed", f"<h1>Not subscribed</h1><p>{company} cannot send emails to this address. "
                    f"To receive them, contact {company}.</p>", 409)
    if outcome.state == "expired":
        return page("This link has expired", "<h1>This link has expired</h1><p>Confirmation links work for "
                    f"{consent.CONFIRM_SECONDS // 86400} days. Sign up again to get a new one. Nothing was "
                    "changed.</p>", 410)
    return not_found_page()


def _confirm(event: dict[str, Any], token: str) -> dict[str, Any]:
    request = parse(event)
    if request.method != "POST":  # GET, HEAD: show where it stands, change nothing
        return _confirm_page(consent.look(signup_store(), signer(), token))
    return _confirm_page(consent.confirm(signup_store(), signer(), token, request.requester()))


def handle(event: dict[str, Any]) -> dict[str, Any]:
    method = parse(event).method
    try:
        if path_param(event, "form_id"):
            return _signup(event, path_param(event, "form_id"))
        return _confirm(event, path_param(event, "token"))
    except Exception:
        logger.exception("signup page failed", extra={"method": method})
        return _error(event, 503, "try_again", "Your request was not saved. Please try again in a minute.",
                      "Something went wrong", extra={"retry-after": "60"})
