"""`beacon demo`: a whole campaign through the local stack, as a client over HTTP.

Sign up, create a list, import the sample CSV, create a signup form and sign someone up through its
hosted page (double opt-in: the confirmation email from the outbox, its Confirm button), create and
send a campaign, read the emails from the outbox, open two, click a link, unsubscribe one person by
RFC 8058 one-click, print stats.
"""

from __future__ import annotations

import email
import html
import re
import secrets
import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from importlib import resources as package_files
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from beacon_local.client import BROWSER_UA, ApiError, Client, wait_for
from beacon_local.stack import LocalStack

Say = Callable[[str], None]

DEMO_POSTAL_ADDRESS = "Demo Coffee Roasters\n12 Roastery Lane\nPortland, OR 97201"  # every email's footer
HUMAN_CLICK_DELAY = 7.0  # seconds after sending; earlier clicks are counted as link scanners
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_SRC = re.compile(r"""src\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def package_text(name: str) -> str:
    return (package_files.files("beacon_local") / name).read_text(encoding="utf-8")


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    return str(part.get_content()) if part is not None else ""


_HIDDEN_A = re.compile(r"""<a\b[^>]*\baria-hidden\s*=\s*["']true["'][^>]*>""", re.IGNORECASE)


def tracked_links(html_text: str) -> list[str]:
    """The tracked links a person sees (not the hidden honeypot link that only machines follow)."""
    visible = _HIDDEN_A.sub("", html_text)
    return [html.unescape(u) for u in _HREF.findall(visible) if "/c/" in u]


def open_pixels(html_text: str) -> list[str]:
    return [html.unescape(u) for u in _SRC.findall(html_text) if "/o/" in u]


def unsubscribe_url(message: EmailMessage) -> str | None:
    header = str(message.get("List-Unsubscribe", ""))
    for part in header.split(","):
        url = part.strip().strip("<>")
        if url.startswith(("http://", "https://")):
            return url
    return None


def stats_table(stats: dict[str, Any]) -> list[str]:
    opens, clicks = stats.get("opens") or {}, stats.get("clicks") or {}
    rows = [
        ("status", stats.get("status")),
        ("recipients", stats.get("recipients")),
        ("sent", stats.get("sent")),
        ("failed", stats.get("failed")),
        ("skipped (suppressed)", stats.get("skipped_suppressed")),
        ("delivered", stats.get("delivered")),
        ("bounced", stats.get("bounced")),
        ("complained", stats.get("complained")),
        ("unsubscribed", stats.get("unsubscribed")),
        ("opens", f"{opens.get('total', 0)} total, {opens.get('unique', 0)} unique "
                  f"({opens.get('human_unique', 0)} human, {opens.get('machine', 0)} machine)"),
        ("clicks", f"{clicks.get('total', 0)} total, {clicks.get('unique', 0)} unique "
                   f"({clicks.get('human_unique', 0)} human, {clicks.get('machine', 0)} machine)"),
    ]
    lines = ["  ┌" + "─" * 24 + "┬" + "─" * 50 + "┐"]
    lines += [f"  │ {name:<22} │ {value!s:<48} │" for name, value in rows]
    lines.append("  └" + "─" * 24 + "┴" + "─" * 50 + "┘")
    links = clicks.get("links") or []
    if links:
        lines.append("  links clicked:")
        lines += [f"    {link.get('total', 0):>3} total {link.get('unique', 0):>3} unique  {link.get('url')}"
                  for link in links]
    return lines


def run_demo(stack: LocalStack, say: Say) -> int:
    try:
        return _run(stack, say)
    except (ApiError, AssertionError, TimeoutError) as error:
        say(f"demo failed: {error}")
        return 1


def _run(stack: LocalStack, say: Say) -> int:
    base = stack.base_url
    say(f"Beacon local stack at {base} (outbox {stack.outbox})")
    api = Client(base)

    run = secrets.token_hex(4)
    email_address = f"owner-{run}@demo.beacon.test"
    sender_domain = f"news-{run}.demo.beacon.test"  # a domain belongs to one account: one per demo run
    password = secrets.token_urlsafe(12)
    signup = api.expect(201, "POST", "/v1/accounts", json_body={
        "company": "Demo Coffee Roasters", "email": email_address, "password": password,
        "postal_address": DEMO_POSTAL_ADDRESS,
    })
    api.token = signup["api_key"]
    say(f"1. signed up {email_address} -> account {signup['account']['id']}")

    the_list = api.expect(201, "POST", "/v1/lists", json_body={"name": "Newsletter"})
    say(f"2. created list {the_list['id']}")

    summary = _import(api, the_list["id"])
    say(f"3. imported the sample CSV: {summary.get('created')} created, {summary.get('updated')} updated, "
        f"{len(summary.get('skipped') or [])} skipped")

    domain = api.expect(201, "POST", "/v1/domains", json_body={"domain": sender_domain})
    say(f"3b. registered the sender domain {sender_domain} ({domain.get('status')}; in AWS, publish its "
        f"{len(domain.get('dkim_records') or [])} DKIM CNAME records)")
    _form_signup(stack, api, the_list["id"], sender_domain, run, say)

    campaign = api.expect(201, "POST", "/v1/campaigns", json_body={
        "name": "Demo newsletter",
        "subject": "What is new at Demo Coffee Roasters",
        "from_email": f"news@{sender_domain}",
        "from_name": "Demo Coffee Roasters",
        "list_ids": [the_list["id"]],
        "html": package_text("newsletter.html"),
        "text": package_text("newsletter.txt"),
    })
    say(f"4. created campaign {campaign['id']} ({campaign.get('status')})")

    started = time.monotonic()
    already = len(stack.ses.written) if stack.ses else 0
    api.expect(202, "POST", f"/v1/campaigns/{campaign['id']}/send", json_body={})
    stats_path = f"/v1/campaigns/{campaign['id']}/stats"

    def sent() -> dict[str, Any] | None:
        stats = api.expect(200, "GET", stats_path)
        return stats if stats.get("status") == "sent" else None

    stats = wait_for(sent, timeout=60)
    if not stats:
        raise TimeoutError(f"the campaign did not finish sending in 60 s: {api.get(stats_path)}")
    say(f"5. sent {stats.get('sent')} emails in {time.monotonic() - started:.1f} s")

    files = (stack.ses.written if stack.ses else sorted(stack.outbox.glob("*.eml")))[already:]
    messages = [read_eml(p) for p in files]
    readers = [m for m in messages if "simulator.amazonses.com" not in str(m["To"])]
    say(f"6. {len(files)} .eml files in {stack.outbox}; one of them:")
    if readers:
        first = readers[0]
        say(f"     From: {first['From']}\n     To: {first['To']}\n     Subject: {first['Subject']}")
        say(f"     List-Unsubscribe: {first['List-Unsubscribe']}")
    browser = {"User-Agent": BROWSER_UA}
    for message in readers[:2]:
        for pixel in open_pixels(html_of(message))[:1]:
            reply = api.get(pixel, headers=browser, auth=False)
            say(f"7. opened the email to {message['To']}: pixel {reply.status} {reply.headers['Content-Type']}")
    if len(readers) > 2:
        target = unsubscribe_url(readers[2])
        if target:
            reply = api.post(target, data=b"List-Unsubscribe=One-Click", auth=False,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
            say(f"8. {readers[2]['To']} unsubscribed with one click: {reply.status}")
    links = tracked_links(html_of(readers[0])) if readers else []
    if links:
        pause = HUMAN_CLICK_DELAY - (time.monotonic() - started)
        if pause > 0:
            say(f"   (waiting {pause:.0f} s: a click in the first seconds after sending looks like a link scanner)")
            time.sleep(pause)
        reply = api.get(links[0], headers=browser, auth=False)
        say(f"9. clicked a link in the email to {readers[0]['To']}: {reply.status} -> {reply.headers['Location']}")

    def settled() -> dict[str, Any] | None:
        stats = api.expect(200, "GET", stats_path)
        events = sum(int(stats.get(k) or 0) for k in ("delivered", "bounced", "complained"))
        engaged = (stats.get("opens") or {}).get("unique", 0) and (stats.get("clicks") or {}).get("unique", 0)
        return stats if engaged and stats.get("unsubscribed") and events >= int(stats.get("sent") or 0) else None

    if stack.ses:
        stack.ses.flush()
    final = wait_for(settled, timeout=30) or api.expect(200, "GET", stats_path)
    say("")
    say(f"Stats of campaign “{campaign.get('name', 'Demo newsletter')}”:")
    for line in stats_table(final):
        say(line)
    _welcome(api, stack, say, the_list["id"], sender_domain)
    say("")
    say(f"The emails are in {stack.outbox} (open a .eml file with any mail client).")
    for line in console_lines(base, email_address, password):
        say(line)
    return 0


def console_lines(base_url: str, email_address: str, password: str) -> list[str]:
    return [
        "",
        f"The web console: {base_url}/  (the report of this campaign is under Campaigns)",
        f"  sign in as {email_address}",
        f"  password   {password}",
    ]


_CONFIRM_LINK = re.compile(r"(https?://\S+/confirm/[A-Za-z0-9_-]+)")


def _outbox_email(stack: LocalStack, to: str, subject_start: str, timeout: float = 30.0) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(stack.outbox.glob("*.eml")):
            message = read_eml(path)
            if str(message["To"]) == to and str(message["Subject"]).startswith(subject_start):
                return message
        time.sleep(0.2)
    raise TimeoutError(f"no email {subject_start!r} to {to} in {timeout:.0f} s")


def _form_signup(stack: LocalStack, api: Client, list_id: str, sender_domain: str, run: str, say: Say) -> None:
    """A signup form; someone signs up on its hosted page and confirms (double opt-in)."""
    form = api.expect(201, "POST", "/v1/forms", json_body={
        "name": "Coffee letter", "list_ids": [list_id], "from_email": f"hello@{sender_domain}",
        "fields": [{"name": "first_name", "label": "First name", "required": True}],
        "consent_text": "Yes, send me Demo Coffee Roasters' newsletter. I can unsubscribe at any time.",
    })
    say(f"3c. created the signup form {form['url']} (embed it anywhere with its embed_html)")
    browser = {"User-Agent": BROWSER_UA}
    page = api.get(form["url"], auth=False, headers=browser)
    version = re.search(r'name="consent_version" value="([0-9a-f]*)"', page.text)
    person = f"fan-{run}@example.com"
    body = urlencode({"email": person, "first_name": "Robin", "homepage": "",
                      "consent_version": version.group(1) if version else ""}).encode()
    reply = api.post(form["url"], auth=False, data=body,
                     headers={**browser, "Content-Type": "application/x-www-form-urlencoded"})
    if reply.status != 200:
        raise ApiError(f"POST {form['url']}", reply)
    confirmation = _outbox_email(stack, person, "Confirm your subscription")
    text = str(confirmation.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    link = _CONFIRM_LINK.search(text)
    if link is None:
        raise AssertionError("the confirmation email has no confirm link")
    status = api.expect(200, "GET", f"/v1/contacts/{quote(person)}")["status"]
    say(f"3d. {person} signed up on the hosted page ({reply.status}): {status}, a confirmation email is in "
        "the outbox")
    shown = api.get(link.group(1), auth=False, headers=browser)  # a link scanner's GET changes nothing
    confirmed = api.post(link.group(1), auth=False, data=b"", headers={
        **browser, "Content-Type": "application/x-www-form-urlencoded"})
    status = api.expect(200, "GET", f"/v1/contacts/{quote(person)}")["status"]
    say(f"3e. opened the link ({shown.status}, a page with a Confirm button) and pressed Confirm "
        f"({confirmed.status}): {person} is {status}")


def _welcome(api: Client, stack: LocalStack, say: Say, list_id: str, sender_domain: str) -> None:
    """A welcome automation on the list, then a new subscriber: the welcome email arrives on its own."""
    automation = api.expect(201, "POST", "/v1/automations", json_body={
        "name": "Welcome", "trigger": {"type": "subscribed", "list_id": list_id},
        "steps": [{"after_seconds": 0, "subject": "Welcome to Demo Coffee Roasters, {{ contact.first_name }}",
                   "from_email": f"hello@{sender_domain}", "from_name": "Demo Coffee Roasters",
                   "html": "<p>Hi {{ contact.first_name }}, thanks for subscribing!</p>",
                   "text": "Hi {{ contact.first_name }}, thanks for subscribing!"}]})
    api.expect(200, "POST", f"/v1/automations/{automation['id']}/activate")
    say("")
    say(f"10. activated the welcome automation {automation['id']}; a new subscriber signs up through the API")
    api.expect(200, "PUT", f"/v1/lists/{list_id}/contacts",
               json_body=[{"email": "new.subscriber@example.com", "attributes": {"first_name": "Robin"}}])

    def arrived() -> EmailMessage | None:
        for path in sorted(stack.outbox.glob("*.eml")):
            message = read_eml(path)
            if "new.subscriber@example.com" in str(message["To"]) and "Welcome" in str(message["Subject"]):
                return message
        return None

    welcome = wait_for(arrived, timeout=60)
    if welcome is None:
        raise TimeoutError("the welcome email did not arrive in 60 s")
    say(f"11. the welcome email arrived: To: {welcome['To']}  Subject: {welcome['Subject']}")


def _import(api: Client, list_id: str) -> dict[str, Any]:
    reply = api.request(
        "POST", f"/v1/lists/{list_id}/imports",
        data=package_text("sample_contacts.csv").encode(), headers={"Content-Type": "text/csv"},
    )
    if reply.status not in (200, 201, 202):
        raise ApiError(f"POST /v1/lists/{list_id}/imports", reply)
    answer = reply.json()
    assert isinstance(answer, dict)
    return answer
