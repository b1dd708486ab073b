"""A person runs a campaign from the console, in Chromium, against `beacon dev`: sign up, a list, the
messy CSV import and its summary, a sender domain, a campaign written, previewed, test-sent and
sent; a few emails opened from the outbox; the report's numbers equal the API's stats and the chart
is drawn; a second campaign paused and resumed; an API key shown once; sign out and in again. A
<script> in a contact and in a template does nothing, anywhere. The tests run in order and share
one account (one stack, one browser, one tab for the module)."""

from __future__ import annotations

import re
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from beacon_local.client import BROWSER_UA, Client
from beacon_local.demo import html_of, open_pixels, read_eml, tracked_links
from tests.browser.conftest import ROOT, snap
from tests.e2e.conftest import DevStack

pytestmark = pytest.mark.browser

RUN = secrets.token_hex(3)
OWNER = f"owner-{RUN}@console.test"
PASSWORD = "a long console password"
POSTAL = "Console Roasters\n5 Bean Street\nSpringfield 12345"  # every email's footer
DOMAIN = f"news-{RUN}.console.test"
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
TEMPLATE = """<!doctype html><html><body>
<h1 id="greeting">Hello {{ contact.name }}</h1>
<p>Spring is here. <a href="https://example.com/spring">See the spring menu</a></p>
<script>document.body.setAttribute('data-ran', '1'); parent.__pwned = 3; parent.document.title = 'pwned';</script>
<img src="x" onerror="parent.__pwned = 4; document.body.setAttribute('data-ran', '2')">
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""
STATE: dict[str, Any] = {}
# dispatch marks a campaign sent at its next "all settled?" check, 2, 7, 17, 47, 107, 167 s after it
# queued the last batch: on a busy machine the settling may miss the early checks
SENT_WITHIN = 180
EVERYONE = 60  # a second list: more than a page of contacts, and 30 s of sending at the test's 2/s


def wait_for(predicate: Any, timeout: float = 60.0, every: float = 0.5, about: Any = None) -> Any:
    """The first true value of predicate(); `about()` says what things looked like if none came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not true within {timeout} s: {predicate}; {about() if about else ''}")


def api(page: Page, path: str) -> Any:
    """GET through the browser's own session (the context shares the page's cookie)."""
    reply = page.request.get(path)
    assert reply.ok, f"{path}: {reply.status} {reply.text()}"
    return reply.json()


def figure(page: Page, label: str) -> int:
    return int(re.sub(r"\D", "", page.get_by_label(label, exact=True).inner_text()) or 0)


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def assert_untouched(page: Page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert "pwned" not in page.title()


def fetch(url: str, user_agent: str) -> int:
    """GET a tracking URL as a mail client would, without following a redirect (the local stack only)."""
    assert url.startswith("http://127.0.0.1:"), url
    return Client(url.split("/", 3)[0] + "//" + url.split("/", 3)[2]).get(url, headers={"User-Agent": user_agent},
                                                                         auth=False).status


# ------------------------------------------------------------------ the story
def test_sign_up_lands_in_the_console_with_the_key_shown_once(page: Page, stack: DevStack) -> None:
    response = page.goto("/")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    expect(page.get_by_role("heading", name="Sign in to Beacon")).to_be_visible()
    snap(page, "sign-in")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Company", exact=True).fill(f"Console {XSS} Roasters")
    page.get_by_label("Email", exact=True).fill(OWNER)
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Postal address", exact=True).fill(POSTAL)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")  # said at the field
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Lists", exact=True)).to_be_visible()
    expect(page.get_by_text("Your account's first API key")).to_be_visible()
    assert page.locator(".secret code").inner_text().startswith("bk_")
    expect(page.get_by_role("banner")).to_contain_text(f"Console {XSS} Roasters")  # the name, as text
    # the session lives in an HttpOnly cookie: no script can read it, and nothing is in web storage
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "__Host-beacon_session"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    snap(page, "welcome")
    assert_untouched(page)


def test_a_list_and_the_messy_sheet_import_with_its_summary(page: Page) -> None:
    page.get_by_label("List name", exact=True).fill("Customers")
    page.get_by_role("button", name="Create list").click()
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    STATE["list_url"] = page.url
    page.get_by_label("CSV file", exact=True).set_input_files(str(ROOT / "tests/data/messy_sheet.csv"))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Imported messy_sheet.csv:")).to_be_visible()
    summary = page.locator(".import-summary")
    expect(summary).to_contain_text("4 new, 0 updated, 6 skipped.")
    expect(page.get_by_label("Import progress")).to_have_attribute("value", "100")
    skipped = page.get_by_role("region", name="Skipped rows")
    for row, reason in ((4, "duplicate of row 2"), (6, "@-sign"), (7, "not ASCII"), (8, "after the @-sign"),
                        (9, "empty"), (10, "payment card")):
        expect(skipped.get_by_role("row").filter(has=page.get_by_role("rowheader", name=str(row), exact=True))
               ).to_contain_text(reason)
    contacts = page.get_by_role("region", name="Contacts", exact=True)
    for address in ("ann@example.com", "bob@example.com", "cy@example.org", "eve@example.net"):
        expect(contacts.get_by_role("link", name=address)).to_be_visible()
    expect(page.get_by_text("4 contacts", exact=True)).to_be_visible()


def test_a_big_file_is_imported_in_the_background_and_followed_to_its_summary(page: Page,
                                                                             tmp_path: Path) -> None:
    """Above the stack's 20-row threshold the import answers 202 with a job: the page follows it,
    filling its progress bar, and shows the same summary a synchronous import does."""
    rows = ["email,name"] + [f"regular{i:02d}@example.com,Regular {i}" for i in range(42)]
    rows += ["not-an-address,Nobody", "regular03@example.com,Again"]  # skipped: rows 44 and 45
    big = tmp_path / "regulars.csv"
    big.write_text("\n".join(rows) + "\n")
    nav(page, "Lists")
    page.get_by_label("List name", exact=True).fill("Regulars")
    page.get_by_role("button", name="Create list").click()
    expect(page.get_by_role("heading", name="Regulars", exact=True)).to_be_visible()
    page.get_by_label("CSV file", exact=True).set_input_files(str(big))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Imported regulars.csv:")).to_be_visible(timeout=60_000)
    expect(page.locator(".import-summary")).to_contain_text("42 new, 0 updated, 2 skipped.")
    skipped = page.get_by_role("region", name="Skipped rows")
    expect(skipped.get_by_role("row").filter(has=page.get_by_role("rowheader", name="45", exact=True))
           ).to_contain_text("duplicate of row 5")
    expect(skipped.get_by_role("row").filter(has=page.get_by_role("rowheader", name="44", exact=True))
           ).to_contain_text("@-sign")
    expect(page.get_by_label("Import progress")).to_have_attribute("value", "100")
    expect(page.get_by_text("42 contacts", exact=True)).to_be_visible()
    snap(page, "list-background-import")
    page.goto(STATE["list_url"])  # back to the story's list
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()


def test_a_script_in_a_contact_is_only_text(page: Page) -> None:
    page.get_by_label("Email", exact=True).fill("mallory@example.com")
    page.get_by_label("Attributes", exact=True).fill(f"name: {XSS}")
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_text("mallory@example.com added.")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="mallory@example.com"))
    expect(row).to_contain_text(f"name: {XSS}")
    expect(page.get_by_text("5 contacts", exact=True)).to_be_visible()
    snap(page, "list")
    row.get_by_role("link", name="mallory@example.com").click()
    expect(page.get_by_role("heading", name="mallory@example.com")).to_be_visible()
    expect(page.get_by_role("cell", name=XSS)).to_be_visible()
    snap(page, "contact")
    assert_untouched(page)


def test_a_sender_domain_shows_its_dkim_records_to_copy(page: Page) -> None:
    nav(page, "Sender domains")
    page.get_by_label("Domain", exact=True).fill(DOMAIN)
    page.get_by_role("button", name="Add domain").click()
    panel = page.get_by_role("region", name=DOMAIN)
    expect(panel.get_by_text("verified")).to_be_visible()  # the local stack verifies at once
    records = panel.get_by_role("region", name=f"DKIM records of {DOMAIN}")
    expect(records.get_by_role("row")).to_have_count(4)  # the header and three CNAME records
    expect(records).to_contain_text("._domainkey." + DOMAIN)
    expect(records.get_by_role("button", name=re.compile("^Copy"))).to_have_count(6)
    snap(page, "domains")


def test_write_preview_and_test_send_a_campaign(page: Page, stack: DevStack) -> None:
    nav(page, "Campaigns")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name", exact=True).fill("Spring menu")
    page.get_by_label("Subject", exact=True).fill("Hello {{ contact.name }}, spring is here")
    expect(page.get_by_label("From email", exact=True)).to_have_value(f"news@{DOMAIN}")
    page.get_by_label("From name", exact=True).fill("Harbour Coffee")
    page.get_by_label("Customers (5 contacts)").check()
    page.get_by_label("HTML", exact=True).fill("<p>{% if %}</p>")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert").first).to_contain_text("line 1")  # the template error, with its line
    page.get_by_label("HTML", exact=True).fill(TEMPLATE)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Spring menu")).to_be_visible()
    STATE["campaign_edit_url"] = page.url
    frame = page.frame_locator("iframe[title='Email preview']")
    expect(frame.locator("#greeting")).to_have_text("Hello")  # the preview renders (Ada has no name)
    page.get_by_label("Their attributes", exact=True).fill(f"name: {XSS}")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(frame.locator("#greeting")).to_contain_text("<script>")  # escaped by the template, shown as text
    expect(page.locator(".preview-subject")).to_contain_text(f"Hello {XSS}, spring is here")
    iframe = page.locator("iframe[title='Email preview']")
    assert iframe.get_attribute("sandbox") == ""  # neither allow-scripts nor allow-same-origin
    # Chromium says it refused the template's script (the message may come a moment after the frame)
    wait_for(lambda: any("allow-scripts" in m for m in page.blocked), timeout=20)  # type: ignore[attr-defined]
    assert frame.locator("body").get_attribute("data-ran") is None  # the template's script did not run
    assert_untouched(page)
    snap(page, "campaign-editor")
    sent_before = len(list(stack.outbox.glob("*.eml")))
    page.get_by_label("Send a test to", exact=True).fill("me@console.test, not an address")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_role("alert").first).to_contain_text("to[1]")
    page.get_by_label("Send a test to", exact=True).fill("me@console.test")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test sent to me@console.test.")).to_be_visible()
    wait_for(lambda: len(list(stack.outbox.glob("*.eml"))) > sent_before, timeout=20)


def test_send_open_a_few_and_the_report_equals_the_stats(page: Page, stack: DevStack) -> None:
    before = set(stack.outbox.glob("*.eml"))
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_text("up to 5 people")).to_be_visible()
    page.get_by_role("button", name="Yes, send it").click()
    expect(page.get_by_role("heading", name="Spring menu")).to_be_visible()
    expect(page.get_by_text("Sending progress")).to_be_visible()
    campaign_id = page.url.split("/campaigns/")[1].split("/")[0]
    STATE["report_url"] = page.url
    stats_path = f"/v1/campaigns/{campaign_id}/stats"
    wait_for(lambda: api(page, stats_path)["status"] == "sent", timeout=SENT_WITHIN,
             about=lambda: api(page, stats_path))
    emails = wait_for(lambda: [read_eml(p) for p in set(stack.outbox.glob("*.eml")) - before
                               if "[Test]" not in str(read_eml(p)["Subject"])] or None, timeout=20)
    assert len(emails) == 5
    people = sorted(emails, key=lambda m: str(m["To"]))
    STATE["spring_people"] = people
    # two people open in a browser, one of them clicks; a scanner fetches the third one's pixel
    for message in people[:2]:
        (pixel,) = open_pixels(html_of(message))
        assert fetch(pixel, BROWSER_UA) == 200
    assert fetch(open_pixels(html_of(people[2]))[0], "curl/8.5.0") == 200
    link = tracked_links(html_of(people[0]))[0]
    assert fetch(link, BROWSER_UA) == 302  # to https://example.com/spring, not followed
    stats = wait_for(lambda: (s := api(page, stats_path))["opens"]["unique"] == 3 and s["clicks"]["total"] == 1
                     and s["delivered"] == 5 and s, timeout=30)
    assert stats["opens"]["human_unique"] == 2 and stats["opens"]["machine"] == 1
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_label("Opened by people", exact=True)).to_have_text("2")
    stats = api(page, stats_path)
    shown = {label: figure(page, label) for label in (
        "Recipients", "Sent", "Delivered", "Bounced", "Complained", "Unsubscribed", "Failed", "Skipped (suppressed)",
        "Not sent", "Opened by people", "Machine opens", "All opens", "Clicked by people", "Machine clicks",
        "All clicks")}
    assert shown == {
        "Recipients": stats["recipients"], "Sent": stats["sent"], "Delivered": stats["delivered"],
        "Bounced": stats["bounced"], "Complained": stats["complained"], "Unsubscribed": stats["unsubscribed"],
        "Failed": stats["failed"], "Skipped (suppressed)": stats["skipped_suppressed"], "Not sent": stats["not_sent"],
        "Opened by people": stats["opens"]["human_unique"], "Machine opens": stats["opens"]["machine"],
        "All opens": stats["opens"]["total"], "Clicked by people": stats["clicks"]["human_unique"],
        "Machine clicks": stats["clicks"]["machine"], "All clicks": stats["clicks"]["total"],
    }
    links = page.get_by_role("region", name="Clicks per link")
    expect(links.get_by_role("row").filter(has_text="https://example.com/spring")).to_contain_text("1")
    # the chart: drawn from the timeline, its lines ending at the same numbers
    opens_chart = page.get_by_role("img", name=re.compile("^Opens over time"))
    expect(opens_chart).to_be_visible()
    human_line = opens_chart.locator("path[data-series='human_opens']").get_attribute("d") or ""
    assert len(re.findall(r"[ML]", human_line)) >= 2
    expect(page.get_by_text("People who opened: 2")).to_be_visible()
    expect(page.get_by_text("Machine opens: 1")).to_be_visible()
    expect(page.get_by_text("Clicks by people: 1")).to_be_visible()
    timeline = api(page, f"/v1/campaigns/{campaign_id}/timeline")
    assert sum(p["human_opens"] for p in timeline["points"]) == 2
    assert sum(p["machine_opens"] for p in timeline["points"]) == 1
    snap(page, "campaign-report")
    nav(page, "Campaigns")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Spring menu"))
    expect(row).to_contain_text("sent")
    snap(page, "campaigns")


def test_pause_and_resume_a_sending_campaign(page: Page) -> None:
    people = "email,name\n" + "".join(f"slow{i:02d}@example.com,Slow {i}\n" for i in range(EVERYONE))
    nav(page, "Lists")
    page.get_by_label("List name", exact=True).fill("Everyone")
    page.get_by_role("button", name="Create list").click()
    page.get_by_label("CSV file", exact=True).set_input_files(
        files=[{"name": "everyone.csv", "mimeType": "text/csv", "buffer": people.encode()}])
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".import-summary")).to_contain_text(f"{EVERYONE} new, 0 updated, 0 skipped.")
    # the contacts, a page of 50 at a time
    contacts = page.get_by_role("region", name="Contacts", exact=True)
    expect(contacts.get_by_role("link", name=re.compile(r"^slow\d+@example\.com$"))).to_have_count(50)
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Page 2", exact=True)).to_be_visible()
    expect(contacts.get_by_role("link", name=re.compile(r"^slow\d+@example\.com$"))).to_have_count(EVERYONE - 50)
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(contacts.get_by_role("link", name=re.compile(r"^slow\d+@example\.com$"))).to_have_count(50)
    nav(page, "Campaigns")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name", exact=True).fill("Slow one")
    page.get_by_label("Subject", exact=True).fill("Hi {{ contact.name }}")
    page.get_by_label(f"Everyone ({EVERYONE} contacts)").check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Slow one")).to_be_visible()
    page.get_by_role("button", name="Send now").click()
    page.get_by_role("button", name="Yes, send it").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".lead .badge")).to_have_text("paused")
    expect(page.get_by_text("paused by the user")).to_be_visible()
    campaign_id = page.url.split("/campaigns/")[1].split("/")[0]
    stats_path = f"/v1/campaigns/{campaign_id}/stats"
    held = api(page, stats_path)
    assert held["status"] == "paused" and held["sent"] < EVERYONE
    snap(page, "campaign-paused")
    resume = page.get_by_role("button", name="Resume")
    expect(resume).to_be_focused()  # the keyboard stays on the controls
    resume.click()
    expect(page.locator(".lead .badge")).to_have_text(re.compile("sending|sent"))
    # the report refreshes itself while the campaign sends: no reload, no Refresh button
    expect(page.locator(".lead .badge")).to_have_text("sent", timeout=SENT_WITHIN * 1000)
    expect(page.get_by_label("Sent", exact=True)).to_have_text(str(EVERYONE))
    assert api(page, stats_path)["sent"] == EVERYONE


def test_schedule_and_cancel(page: Page) -> None:
    nav(page, "Campaigns")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name", exact=True).fill("Next week")
    page.get_by_label("Subject", exact=True).fill("Soon")
    page.get_by_label(f"Everyone ({EVERYONE} contacts)").check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Next week")).to_be_visible()
    page.get_by_label("Send at", exact=True).fill("2020-01-01T09:00")
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("alert").first).to_contain_text("is in the past")
    when = time.strftime("%Y-%m-%dT09:00", time.localtime(time.time() + 7 * 86400))
    page.get_by_label("Send at", exact=True).fill(when)
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator(".lead .badge")).to_have_text("scheduled")
    expect(page.locator(".lead")).to_contain_text(" for ")
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    page.get_by_role("button", name="Cancel campaign").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.locator(".lead .badge")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel campaign")).to_have_count(0)


def new_emails(stack: DevStack, before: set[Any], subject: str, count: int) -> list[str]:
    """The recipients of `count` new outbox emails whose subject starts with `subject`."""
    def arrived() -> list[str] | None:
        found = [str(m["To"]) for m in map(read_eml, set(stack.outbox.glob("*.eml")) - before)
                 if str(m["Subject"]).startswith(subject)]
        return found if len(found) >= count else None
    return sorted(wait_for(arrived, timeout=60, about=lambda: stack.output()[-2000:]))


def rule(page: Page, number: int) -> Any:
    return page.get_by_role("group", name=f"Rule {number}", exact=True)


def test_a_segment_with_a_live_count(page: Page) -> None:
    """Pro customers who did not open the spring menu: the count follows every change of a rule, a rule
    the API refuses is marked where it is wrong, and the saved segment reads as a sentence."""
    nav(page, "Segments")
    expect(page.get_by_text("No segments yet.")).to_be_visible()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Segment name", exact=True).fill("Pro customers")
    count = page.locator(".live-count .count-value")
    first = rule(page, 1)
    first.get_by_label("Field", exact=True).select_option(label="Attribute")
    first.get_by_label("Attribute name", exact=True).fill("plan")
    expect(first.get_by_label("Condition", exact=True)).to_have_value("eq")
    first.get_by_label("Value", exact=True).fill("PRO")
    expect(count).to_have_text("3")  # ann, cy and eve of Customers, case ignored; Everyone has no plan
    page.get_by_role("button", name="Add rule").click()
    second = rule(page, 2)
    second.get_by_label("Field", exact=True).select_option(label="Attribute")
    second.get_by_label("Attribute name", exact=True).fill("plan")
    second.get_by_label("Condition", exact=True).select_option("gt")
    second.get_by_label("Value", exact=True).fill("soon")
    expect(page.locator(".live-count")).to_contain_text("Not counted: rules[1].value")
    expect(second.get_by_label("Value", exact=True)).to_have_attribute("aria-invalid", "true")
    second.get_by_label("Field", exact=True).select_option(label="A campaign")
    second.get_by_label("Campaign", exact=True).select_option(label="Spring menu (sent)")
    second.get_by_label("Condition", exact=True).select_option(label="was sent it, did not open it")
    expect(count).to_have_text("2")  # ann opened it in a browser; cy's was only fetched by a scanner
    page.get_by_label("any of the rules").check()
    expect(count).to_have_text("4")  # pro, or sent it without a person opening it: ann, cy, eve, mallory
    page.get_by_label("all of the rules").check()
    expect(count).to_have_text("2")
    page.get_by_role("checkbox", name=re.compile("^Customers")).uncheck()
    expect(count).to_have_text("0")
    page.get_by_role("checkbox", name=re.compile("^Customers")).check()
    expect(count).to_have_text("2")
    snap(page, "segment-editor")
    page.get_by_role("button", name="Create segment").click()
    expect(page.get_by_role("heading", name="Pro customers")).to_be_visible()
    expect(page.locator(".lead")).to_have_text("Who: plan is “PRO” and did not open “Spring menu”")
    expect(count).to_have_text("2")
    nav(page, "Segments")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Pro customers"))
    expect(row).to_contain_text("did not open “Spring menu”")
    snap(page, "segments")


def test_a_campaign_to_a_segment_and_a_resend_to_non_openers(page: Page, stack: DevStack) -> None:
    """The editor counts a campaign's audience with its segment; it reaches exactly those people. The
    report resends the spring menu to whoever no person opened it for: a scanner's fetch does not count."""
    nav(page, "Campaigns")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name", exact=True).fill("Pro tasting")
    page.get_by_label("Subject", exact=True).fill("A tasting for pro members")
    page.get_by_label("Customers (5 contacts)").check()
    audience = page.locator(".live-count .count-value")
    expect(audience).to_have_text("5")
    page.get_by_label("Segment", exact=True).select_option(label="Pro customers")
    expect(page.locator(".segment-words")).to_contain_text("plan is “PRO”")
    expect(audience).to_have_text("2")
    page.get_by_text("Leave out contacts of other lists").click()
    page.get_by_role("group", name="Leave out the contacts of these lists").get_by_label("Everyone", exact=True).check()
    expect(audience).to_have_text("2")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Pro tasting")).to_be_visible()
    expect(page.get_by_label("Segment", exact=True).locator("option:checked")).to_have_text("Pro customers")
    expect(audience).to_have_text("2")
    snap(page, "campaign-segment")
    before = set(stack.outbox.glob("*.eml"))
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_text("who match “Pro customers”")).to_be_visible()
    page.get_by_role("button", name="Yes, send it").click()
    expect(page.get_by_text("Segment: “Pro customers”, as it was when sent.")).to_be_visible()
    assert new_emails(stack, before, "A tasting", 2) == ["cy@example.org", "eve@example.net"]

    page.goto(STATE["report_url"])
    expect(page.get_by_role("heading", name="Spring menu")).to_be_visible()
    page.get_by_label("Subject of the resend", exact=True).fill("In case you missed the spring menu")
    page.get_by_role("button", name="Resend to non-openers").click()
    expect(page.get_by_role("heading", name="Spring menu (resend to non-openers)")).to_be_visible()
    expect(page.get_by_text("A resend of “Spring menu” to its recipients who did not open it")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Customers (5 contacts)")).to_have_count(0)  # not aimed at lists
    expect(page.get_by_label("Subject", exact=True)).to_have_value("In case you missed the spring menu")
    snap(page, "campaign-resend")
    before = set(stack.outbox.glob("*.eml"))
    page.get_by_role("button", name="Send now").click()
    page.get_by_role("button", name="Yes, send it").click()
    expect(page.get_by_text("A resend of the original to its non-openers.")).to_be_visible()
    # ann and bob opened it in a browser; cy's pixel was fetched only by a scanner: cy gets it again
    assert new_emails(stack, before, "In case you missed", 3) == [
        "cy@example.org", "eve@example.net", "mallory@example.com"]


def test_account_settings(page: Page) -> None:
    nav(page, "Account")
    expect(page.get_by_text(OWNER)).to_be_visible()
    # the postal address given at sign-up, to be changed here (every email's footer)
    expect(page.get_by_label("Postal address", exact=True)).to_have_value(POSTAL)
    page.get_by_label("Company", exact=True).fill("Harbour Coffee Roasters")
    page.get_by_label("Postal address", exact=True).fill("x")
    page.get_by_role("button", name="Save company").click()
    expect(page.get_by_label("Postal address", exact=True)).to_have_attribute("aria-invalid", "true")  # too short
    page.get_by_label("Postal address", exact=True).fill("Harbour Coffee Roasters\n2 Quay Street\nPortsmouth PO1 2AB")
    page.get_by_role("button", name="Save company").click()
    expect(page.get_by_text("The company is saved.")).to_be_visible()
    expect(page.get_by_label("Postal address", exact=True)).to_have_value(
        "Harbour Coffee Roasters\n2 Quay Street\nPortsmouth PO1 2AB")
    expect(page.get_by_role("banner")).to_contain_text("Harbour Coffee Roasters")
    page.get_by_label("Current password", exact=True).fill("not the password")
    page.get_by_label("New password", exact=True).fill("another long password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_label("Current password", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("This is not the account's current password.")).to_be_visible()
    expect(page.get_by_label("Current password", exact=True)).to_be_focused()
    snap(page, "account")


def test_a_signup_form_with_its_embed_code(page: Page, stack: DevStack) -> None:
    """A form on the Customers list with a First name field: a reserved attribute is refused at its row;
    the saved form shows its hosted page and the embed code to copy, the same as the API's."""
    nav(page, "Forms")
    page.get_by_role("link", name="New form").click()
    page.get_by_label("Form name", exact=True).fill("Coffee club")
    page.get_by_label("Customers (5 contacts)").check()
    expect(page.get_by_label("Confirmation email from", exact=True)).to_have_value(f"hello@{DOMAIN}")
    page.get_by_role("button", name="Add field").click()
    extra = page.get_by_role("group", name="Field 1", exact=True)
    extra.get_by_label("Label", exact=True).fill("First name")
    expect(extra.get_by_label("Attribute", exact=True)).to_have_value("first_name")
    extra.get_by_label("Attribute", exact=True).fill("email")
    page.get_by_role("button", name="Create form").click()
    expect(extra.get_by_label("Attribute", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(extra).to_contain_text("reserved")
    extra.get_by_label("Attribute", exact=True).fill("first_name")
    extra.get_by_label("Required", exact=True).check()
    page.get_by_role("button", name="Create form").click()
    expect(page.get_by_role("heading", name="Coffee club")).to_be_visible()
    form_id = page.url.split("/forms/")[1]
    saved = api(page, f"/v1/forms/{form_id}")
    assert saved["fields"] == [{"name": "first_name", "label": "First name", "required": True}]
    embed = page.get_by_label("Embed code (HTML)", exact=True)
    expect(embed).to_have_value(saved["embed_html"])
    expect(page.get_by_role("link", name=saved["url"])).to_be_visible()
    expect(page.get_by_role("button", name="Copy the embed code")).to_be_visible()
    snap(page, "form")
    nav(page, "Forms")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Coffee club"))
    expect(row).to_contain_text("Customers")
    snap(page, "forms")


def test_the_report_in_the_readme(page: Page) -> None:
    """docs/console-report.png: the spring menu's report a few minutes on, under the company's real name: a
    link scanner clicks cy's link, eve opens and clicks as a person; people and machines stay apart."""
    people = {str(m["To"]): m for m in STATE["spring_people"]}
    assert fetch(tracked_links(html_of(people["cy@example.org"]))[0], "curl/8.5.0") == 302
    assert fetch(open_pixels(html_of(people["eve@example.net"]))[0], BROWSER_UA) == 200
    assert fetch(tracked_links(html_of(people["eve@example.net"]))[0], BROWSER_UA) == 302
    campaign_id = STATE["report_url"].split("/campaigns/")[1].split("/")[0]
    wait_for(lambda: (s := api(page, f"/v1/campaigns/{campaign_id}/stats"))["opens"]["human_unique"] == 3
             and s["clicks"]["human_unique"] == 2 and s["clicks"]["machine"] == 1 and s,
             timeout=30)  # the stats roll-up follows the ledger's stream (a 5 s batching window)
    page.goto(STATE["report_url"])
    expect(page.get_by_label("Opened by people", exact=True)).to_have_text("3")
    expect(page.get_by_label("Clicked by people", exact=True)).to_have_text("2")
    expect(page.get_by_label("Machine clicks", exact=True)).to_have_text("1")
    expect(page.get_by_role("banner")).to_contain_text("Harbour Coffee Roasters")
    expect(page.get_by_text("Machine opens: 1")).to_be_visible()
    page.mouse.move(640, 600)  # no header link left hovered by the last click
    page.screenshot(path=str(ROOT / ".beacon/screenshots/report-for-readme.png"), full_page=True)


def test_an_api_key_is_shown_once_and_revoked(page: Page, stack: DevStack) -> None:
    nav(page, "API keys")
    page.get_by_label("Key name", exact=True).fill("CRM sync")
    page.get_by_role("button", name="Create key").click()
    key = page.locator(".secret code").inner_text()
    assert key.startswith("bk_")
    request = urllib.request.Request(f"{stack.base_url}/v1/lists", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200
    snap(page, "api-keys")
    page.reload()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    assert key not in page.content()  # shown once: after a reload only its prefix is there
    row = page.get_by_role("row").filter(has_text="CRM sync")
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("button", name="Revoke it").click()
    expect(page.get_by_text("The key “CRM sync” was revoked.")).to_be_visible()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401


def test_keyboard_only_sign_out_and_sign_in(page: Page) -> None:
    page.goto("/#/campaigns")
    expect(page.get_by_role("heading", name="Campaigns", exact=True)).to_be_focused()  # focus moves to the page
    page.get_by_role("button", name="Sign out").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in to Beacon")).to_be_visible()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "__Host-beacon_session" and c["value"]]
    page.goto(STATE["report_url"])  # a signed-out visit goes to sign-in and comes back after it
    expect(page.get_by_role("heading", name="Sign in to Beacon")).to_be_visible()
    page.get_by_label("Email", exact=True).focus()
    page.keyboard.type(OWNER)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Spring menu")).to_be_visible()
    assert page.url == STATE["report_url"]


def test_a_change_without_the_csrf_token_is_refused_in_the_browser(page: Page, stack: DevStack) -> None:
    """A request that carries the cookie but not the token (what a forged form would send) changes nothing."""
    refused = page.request.post("/v1/lists", data={"name": "Forged"})
    assert refused.status == 403 and refused.json()["error"]["code"] == "csrf_failed"
    names = [item["name"] for item in api(page, "/v1/lists")["items"]]
    assert "Forged" not in names and "Customers" in names

