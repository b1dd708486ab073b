"""Promise 5 through the send pipeline over moto: a pending form signup gets no campaign; once the
person confirms, the next campaign reaches them. Every campaign email carries the account's postal
address (HTML and text) and the RFC 2919 List-Id of the list it was sent through."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
from pathlib import Path

import pytest

from beacon import wiring
from beacon.audience import consent, forms, signup, subscriptions
from beacon.db.accounts import AccountRepo, ListRepo
from beacon.db.suppressions import SuppressionRepo
from beacon.ports.queue import FakeQueue
from beacon.ports.ses import FakeSender
from beacon.shared.ids import recipient_id
from beacon.shared.tokens import TokenData
from beacon_local.iam import invoking
from tests.integration.conftest import load_function
from tests.integration.pipeline_world import World, make_world
from tests.integration.test_ses_events import Ctx

EVENTS = Path(__file__).resolve().parents[1] / "events"
POSTAL = "Acme Ltd\n12 Harbour Road\nPortland, OR 97201"


@pytest.fixture
def world(clean_aws: object) -> World:
    w = make_world()
    AccountRepo().set_postal_address(w.account_id, POSTAL)
    return w


def sign_up(world: World, form_id: str, address: str, ses: FakeSender) -> str:
    """Through the public step and the signup step, as the two functions run it: the confirm token."""
    form = wiring.form_repo().get(form_id)
    assert form is not None
    queue = FakeQueue()
    submission = signup.read_submission(form, {"email": address})
    with invoking("FormsFunction"):
        signup.accept(form, submission, ("desktop_browser", "192.0.2.0/24"), "https://t.example.com",
                      wiring.signup_store(), queue, "q://signup")
    deps = signup.SignupDeps(wiring.signup_store(), ses, wiring.signer(), wiring.sender_check())
    with invoking("SignupFunction"):
        assert [signup.process(m, deps) for m in queue.drain("q://signup")] == ["sent"]
    message = email.message_from_bytes(ses.sent[-1].raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"https://t\.example\.com/confirm/([A-Za-z0-9_-]+)", text)
    assert found, text
    return found.group(1)


def test_a_pending_signup_gets_no_campaign_and_a_confirmed_one_gets_the_next(world: World) -> None:
    members = [f"member{i}@example.com" for i in range(3)]
    list_id = world.new_list(members)
    form = forms.create(wiring.form_repo(), ListRepo(), world.account_id,
                        {"name": "Join", "list_ids": [list_id], "from_email": f"hi@{world.sender_domain}",
                         "consent_text": "Yes, send me news."}, wiring.sender_check())
    ses = FakeSender()
    token = sign_up(world, form.form_id, "newcomer@example.com", ses)
    world.campaign([list_id])
    world.run_all()
    assert sorted(world.recipients_sent()) == members  # the pending signup was not mailed
    with invoking("FormsFunction"):
        outcome = consent.confirm(wiring.signup_store(), wiring.signer(), token, ("desktop_browser", "192.0.2.0/24"))
    assert outcome.state == "confirmed"
    world.ses.sent.clear()
    world.campaign([list_id])
    world.run_all()
    assert sorted(world.recipients_sent()) == sorted([*members, "newcomer@example.com"])
    message = email.message_from_bytes(world.ses.sent[0].raw, policy=email.policy.default)
    assert message["List-Id"] == f"<{list_id}.{world.sender_domain}>"
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Acme<br>Acme Ltd<br>12 Harbour Road<br>Portland, OR 97201" in html
    assert "Acme\nAcme Ltd\n12 Harbour Road\nPortland, OR 97201" in text.replace("\r\n", "\n")


def test_a_pending_signup_in_a_queued_batch_is_skipped_by_the_send_gate(world: World) -> None:
    """Someone on the campaign's list when it was dispatched unsubscribes, then signs up again on the
    form: until they confirm they are a pending signup, and the batch already queued for them skips
    them at the gate (settled suppressed); once confirmed, the next campaign reaches them."""
    members = ["stays@example.com", "returns@example.com"]
    list_id = world.new_list(members)
    form = forms.create(wiring.form_repo(), ListRepo(), world.account_id,
                        {"name": "Join", "list_ids": [list_id], "from_email": f"hi@{world.sender_domain}",
                         "consent_text": "Yes, send me news."}, wiring.sender_check())
    campaign = world.campaign([list_id])
    world.run_dispatch()
    batches = world.send_messages()
    assert sorted(r["email"] for b in batches for r in b["recipients"]) == sorted(members)
    rid = recipient_id(world.account_id, "returns@example.com")
    assert subscriptions.unsubscribe(wiring.subscription_deps(), TokenData(b"u", world.account_id, campaign, rid),
                                     "page")
    token = sign_up(world, form.form_id, "returns@example.com", FakeSender())
    with invoking("FormsFunction"):
        assert consent.look(wiring.signup_store(), wiring.signer(), token, time.time).state == "pending"
    world.deliver(batches)
    assert world.recipients_sent() == ["stays@example.com"]
    assert wiring.ledger().get(world.account_id, campaign, rid)["status"] == "suppressed"  # type: ignore[index]
    with invoking("FormsFunction"):
        assert consent.confirm(wiring.signup_store(), wiring.signer(), token, ("", "")).state == "confirmed"
    world.ses.sent.clear()
    world.campaign([list_id])
    world.run_all()
    assert sorted(world.recipients_sent()) == sorted(members)


def test_a_person_on_two_lists_gets_the_list_id_of_the_first(world: World) -> None:
    first = world.new_list(["both@example.com", "one@example.com"])
    second = world.new_list(["both@example.com", "two@example.com"])
    world.campaign([first, second])
    world.run_all()
    list_ids = {e.to_address: email.message_from_bytes(e.raw, policy=email.policy.default)["List-Id"]
                for e in world.ses.sent}
    assert list_ids == {"both@example.com": f"<{first}.{world.sender_domain}>",
                        "one@example.com": f"<{first}.{world.sender_domain}>",
                        "two@example.com": f"<{second}.{world.sender_domain}>"}


def test_a_pending_membership_of_a_subscribed_contact_gets_no_campaign_of_that_list(world: World) -> None:
    first = world.new_list(["known@example.com"])
    second = world.new_list(["other@example.com"])
    form = forms.create(wiring.form_repo(), ListRepo(), world.account_id,
                        {"name": "Second", "list_ids": [second], "from_email": f"hi@{world.sender_domain}",
                         "consent_text": "Yes."}, wiring.sender_check())
    ses = FakeSender()
    token = sign_up(world, form.form_id, "known@example.com", ses)  # subscribed to the first, pending on the second
    world.campaign([second])
    world.run_all()
    assert world.recipients_sent() == ["other@example.com"]
    with invoking("FormsFunction"):
        assert consent.look(wiring.signup_store(), wiring.signer(), token, time.time).state == "pending"
        assert consent.confirm(wiring.signup_store(), wiring.signer(), token, ("", "")).state == "confirmed"
    world.ses.sent.clear()
    world.campaign([second])
    world.run_all()
    assert sorted(world.recipients_sent()) == ["known@example.com", "other@example.com"]
    world.ses.sent.clear()
    world.campaign([first])
    world.run_all()
    assert world.recipients_sent() == ["known@example.com"]


def test_a_hard_bounce_of_the_confirmation_email_suppresses_the_address(world: World) -> None:
    """The confirmation email is tagged with the tenant and the person, not a campaign: its hard bounce
    (SES through SNS to ses_events) suppresses the address, its link then confirms nobody, and the
    address gets no second confirmation email."""
    list_id = world.new_list([])
    form = forms.create(wiring.form_repo(), ListRepo(), world.account_id,
                        {"name": "Join", "list_ids": [list_id], "from_email": f"hi@{world.sender_domain}",
                         "consent_text": "Yes, send me news."}, wiring.sender_check())
    ses = FakeSender()
    token = sign_up(world, form.form_id, "nobody@example.com", ses)
    (confirmation,) = ses.sent
    bounce = json.loads((EVENTS / "ses_bounce_permanent.json").read_text())
    doc = json.loads(bounce["Records"][0]["Sns"]["Message"])
    doc["mail"]["tags"] = {"ses:configuration-set": ["beacon-test"],
                           **{name: [value] for name, value in confirmation.tags.items()}}
    doc["mail"]["destination"] = [confirmation.to_address]
    doc["bounce"]["bouncedRecipients"][0]["emailAddress"] = confirmation.to_address
    bounce["Records"][0]["Sns"]["Message"] = json.dumps(doc)
    assert load_function("functions/ses_events", "fn_ses_events_forms_test")(bounce, Ctx()) == {
        "handled": 1, "ignored": 0}
    rid = recipient_id(world.account_id, "nobody@example.com")
    found = SuppressionRepo().get(world.account_id, rid)
    assert found is not None and found.reason == "bounce"
    with invoking("FormsFunction"):
        assert consent.confirm(wiring.signup_store(), wiring.signer(), token, ("", "")).state == "blocked"
    form_record = wiring.form_repo().get(form.form_id)
    assert form_record is not None
    queue = FakeQueue()
    with invoking("FormsFunction"):
        signup.accept(form_record, signup.read_submission(form_record, {"email": "nobody@example.com"}),
                      ("desktop_browser", "192.0.2.0/24"), "https://t.example.com", wiring.signup_store(), queue,
                      "q://signup")
    deps = signup.SignupDeps(wiring.signup_store(), ses, wiring.signer(), wiring.sender_check())
    with invoking("SignupFunction"):
        assert [signup.process(m, deps) for m in queue.drain("q://signup")] == ["suppressed"]
    assert len(ses.sent) == 1
