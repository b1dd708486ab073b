"""The HTML of a signup form: the hosted page's and `embed_html`, the same markup, so what a person
sees on the tenant's website is what the hosted page shows. Every value is escaped.

A plain HTML form that posts (urlencoded) to /forms/{form_id} works pasted into any website, with no
script. It carries the hidden honeypot field (out of sight, out of the tab order, hidden from
screen readers and autofill: only bots fill it) and the version of the consent text it shows.
"""

from __future__ import annotations

import html
from typing import Any

from beacon.audience.signup import CONSENT_VERSION, HONEYPOT
from beacon.db.forms import FormRecord

_HIDDEN = "position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden"


def consent_html(text: str) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())


def form_html(form: FormRecord, action: str, values: dict[str, Any] | None = None, *,
              embedded: bool = False) -> str:
    """The <form>: a labelled Email field, the form's own fields, the consent text, Subscribe."""
    values = values or {}
    e = html.escape

    def value(name: str) -> str:
        found = values.get(name)
        return f' value="{e(found, quote=True)}"' if isinstance(found, str) and found else ""

    prefix = f"beacon-{form.form_id[-8:]}-"
    rows = [
        f'<p><label for="{prefix}email">Email</label><br>'
        f'<input id="{prefix}email" type="email" name="email" required autocomplete="email"'
        f' maxlength="254"{value("email")}></p>'
    ]
    for spec in form.fields:
        name = str(spec["name"])
        required = " required" if spec.get("required") else ""
        rows.append(f'<p><label for="{prefix}{e(name)}">{e(str(spec.get("label") or name))}</label><br>'
                    f'<input id="{prefix}{e(name)}" type="text" name="{e(name)}" maxlength="500"{required}'
                    f'{value(name)}></p>')
    rows.append(f'<div class="consent">{consent_html(form.consent_text)}</div>')
    rows.append(f'<div aria-hidden="true" style="{_HIDDEN}"><label for="{prefix}{HONEYPOT}">Leave this empty'
                f'</label><input id="{prefix}{HONEYPOT}" type="text" name="{HONEYPOT}" tabindex="-1"'
                ' autocomplete="off" value=""></div>')
    rows.append(f'<input type="hidden" name="{CONSENT_VERSION}" value="{e(form.consent_version)}">')
    rows.append('<p><button type="submit">Subscribe</button></p>')
    style = ' style="max-width:420px;font-family:inherit"' if embedded else ""
    return (f'<form method="post" action="{e(action, quote=True)}" accept-charset="utf-8"'
            f' class="beacon-signup"{style}>' + "".join(rows) + "</form>")


def embed_html(form: FormRecord, base_url: str) -> str:
    """What a tenant pastes into a page of its website."""
    return (f"<!-- Beacon signup form: {html.escape(form.name)} -->\n"
            + form_html(form, f"{base_url}/forms/{form.form_id}", embedded=True) + "\n")
