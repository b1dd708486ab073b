"""Signup forms: what a form asks, which lists it fills, who the confirmation comes from, and the
consent text a person agrees to. Create, read, change, delete (the /v1/forms API); the public page
and its POST are beacon.web.forms_public, the signup itself beacon.audience.signup.

Every form is double opt-in: a public signup is confirmed by the person before any campaign reaches
them (promise 5), so `double_opt_in: false` is refused rather than quietly ignored.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from beacon.audience.attributes import MAX_NAME, attribute_name
from beacon.audience.signup import RESERVED
from beacon.db.forms import FormRecord, FormRepo
from beacon.shared import addresses
from beacon.shared.clock import now_iso
from beacon.shared.errors import NotFound, invalid
from beacon.shared.ids import is_id, new_id

if TYPE_CHECKING:
    from beacon.db.accounts import ListRepo

MAX_LISTS = 10
MAX_FIELDS = 15
MAX_CONSENT = 5000
MAX_URL = 2048
MAX_VERSIONS = 50  # consent texts a form remembers (each an embedded copy may still show)
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
EDITABLE = ("name", "list_ids", "from_email", "from_name", "double_opt_in", "fields", "consent_text", "success_url")


def consent_version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _line(field: str, value: Any, limit: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    text = value.strip()
    if required and not text:
        raise invalid(field, "must not be empty")
    if len(text) > limit:
        raise invalid(field, f"at most {limit} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        raise invalid(field, "must be one line without control characters")
    return text


def _consent(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("consent_text", "must say what people agree to (it is shown on the form and kept as proof)")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > MAX_CONSENT:
        raise invalid("consent_text", f"at most {MAX_CONSENT} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text.replace("\n", "")):
        raise invalid("consent_text", "must not contain control characters")
    return text


def _fields(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_FIELDS:
        raise invalid("fields", f"must be a list of at most {MAX_FIELDS} fields")
    out: list[dict[str, Any]] = []
    for i, spec in enumerate(value):
        if not isinstance(spec, dict) or set(spec) - {"name", "label", "required"}:
            raise invalid(f"fields[{i}]", "must be {name, label, required}")
        raw = spec.get("name")
        name = attribute_name(raw) if isinstance(raw, str) else ""
        if not _NAME.match(name) or len(name) > MAX_NAME:
            raise invalid(f"fields[{i}].name", f"letters, digits and _ (a contact attribute), at most {MAX_NAME}")
        if name in RESERVED:
            raise invalid(f"fields[{i}].name", f"{name!r} is reserved (the email field and the form's own fields)")
        if any(f["name"] == name for f in out):
            raise invalid(f"fields[{i}].name", f"{name!r} appears twice")
        label = _line(f"fields[{i}].label", spec.get("label") or name, 200)
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise invalid(f"fields[{i}].required", "must be true or false")
        out.append({"name": name, "label": label, "required": required})
    return out


def _success_url(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > MAX_URL:
        raise invalid("success_url", f"must be an http(s) URL of at most {MAX_URL} characters")
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in value):
        raise invalid("success_url", "must not contain spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        raise invalid("success_url", "must be an absolute http(s) URL such as https://example.com/thanks")
    return value


def _lists(lists: ListRepo, account_id: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LISTS:
        raise invalid("list_ids", f"must name 1 to {MAX_LISTS} lists")
    found = list(dict.fromkeys(value))
    for list_id in found:
        if not isinstance(list_id, str) or not is_id(list_id) or lists.get(account_id, list_id) is None:
            raise invalid("list_ids", f"list {list_id} not found")
    return found


def _validate(fields: dict[str, Any], lists: ListRepo, account_id: str,
              senders: Callable[[str, str], bool]) -> dict[str, Any]:
    if fields.get("double_opt_in", True) is not True:
        raise invalid("double_opt_in", "every Beacon form is double opt-in: a public signup is confirmed by the "
                                       "person before any campaign reaches them", code="double_opt_in_required")
    clean: dict[str, Any] = {
        "name": _line("name", fields.get("name"), 200),
        "list_ids": _lists(lists, account_id, fields.get("list_ids")),
        "from_name": _line("from_name", fields.get("from_name") or "", 200, required=False),
        "fields": _fields(fields.get("fields")),
        "consent_text": _consent(fields.get("consent_text")),
        "success_url": _success_url(fields.get("success_url")),
    }
    try:
        clean["from_email"] = addresses.normalize(fields.get("from_email"))
    except addresses.InvalidAddress as exc:
        raise invalid("from_email", str(exc)) from exc
    if not senders(account_id, clean["from_email"]):
        domain = clean["from_email"].rpartition("@")[2]
        raise invalid("from_email", f"{domain} is not a verified sender domain of this account: add it with "
                                     "POST /v1/domains and publish its DKIM records")
    return clean


def view(form: FormRecord) -> dict[str, Any]:
    return {
        "id": form.form_id, "name": form.name, "list_ids": list(form.list_ids), "from_email": form.from_email,
        "from_name": form.from_name or None, "double_opt_in": True, "fields": [dict(f) for f in form.fields],
        "consent_text": form.consent_text, "success_url": form.success_url or None,
        "created_at": form.created_at, "updated_at": form.updated_at,
    }


def create(repo: FormRepo, lists: ListRepo, account_id: str, fields: dict[str, Any],
           senders: Callable[[str, str], bool]) -> FormRecord:
    clean = _validate(fields, lists, account_id, senders)
    now = now_iso()
    form = FormRecord(account_id=account_id, form_id=new_id(), created_at=now, updated_at=now,
                      consent_versions={consent_version(clean["consent_text"]): clean["consent_text"]}, **clean)
    repo.create(form)
    return form


def require(repo: FormRepo, account_id: str, form_id: str) -> FormRecord:
    form = repo.owned(account_id, form_id) if is_id(form_id) else None
    if form is None:
        raise NotFound("form not found")
    return form


def update(repo: FormRepo, lists: ListRepo, account_id: str, form_id: str, changes: dict[str, Any],
           senders: Callable[[str, str], bool]) -> FormRecord:
    """Change a form; a new consent text is remembered with the old ones (pages already loaded, and
    copies of the embed code, may still show an old one: a signup keeps the text it was shown)."""
    form = require(repo, account_id, form_id)
    merged = {k: getattr(form, k) for k in EDITABLE}
    merged.update({k: v for k, v in changes.items() if k in EDITABLE and (v is not None or k == "success_url")})
    clean = _validate(merged, lists, account_id, senders)
    for key, value in clean.items():
        setattr(form, key, value)
    versions = dict(form.consent_versions)
    versions.pop(consent_version(form.consent_text), None)
    versions[consent_version(form.consent_text)] = form.consent_text  # newest last
    form.consent_versions = dict(list(versions.items())[-MAX_VERSIONS:])
    form.updated_at = now_iso()
    if not repo.save(form):
        raise NotFound("form not found")
    return form


def delete(repo: FormRepo, account_id: str, form_id: str) -> None:
    """The form and its page are gone; signups waiting for their confirmation can still confirm."""
    if not is_id(form_id) or not repo.delete(account_id, form_id):
        raise NotFound("form not found")
