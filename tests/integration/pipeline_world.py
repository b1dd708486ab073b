"""A tenant with lists and a campaign over moto, and the send pipeline wired to in-memory SQS/SES,
so a test can deliver, redeliver, reorder and crash messages at will."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from beacon import wiring
from beacon.accounts import sender_domains as domains
from beacon.accounts import tenants
from beacon.audience import contacts
from beacon.campaigns import drafts as campaigns
from beacon.campaigns import lifecycle
from beacon.campaigns.stats import report
from beacon.db.accounts import AccountRepo, ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.db.contacts import ContactRepo
from beacon.db.domains import DomainRepo
from beacon.db.models import ListItem
from beacon.db.suppressions import SuppressionRepo
from beacon.ports.identities import FakeIdentities
from beacon.ports.queue import FakeQueue
from beacon.ports.ses import FakeSender
from beacon.sending.deps import SendDeps
from beacon.sending.dispatch import dispatch
from beacon.sending.send import send_batch
from beacon.shared.clock import now_iso
from beacon.shared.ids import new_id
from tests.integration.ledger_stream import roll_up

SEND_Q = "local://send"
DISPATCH_Q = "local://dispatch"
BASE = "https://t.example.com"
HTML = (
    "<html><body><p>Hello {{ contact.first_name }}</p>"
    '<a href="https://shop.example.com/a">A</a> <a href="https://shop.example.com/b">B</a>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


@dataclass
class World:
    account_id: str
    deps: SendDeps
    queue: FakeQueue
    ses: FakeSender
    lists: list[str] = field(default_factory=list)
    sender_domain: str = "acme.test"  # a verified sender domain of this tenant (make_world registers one)
    finalize_jobs: list[dict[str, Any]] = field(default_factory=list)

    def new_list(self, emails: list[str]) -> str:
        list_id = new_id()
        ListRepo().create(ListItem(pk=f"A#{self.account_id}", sk=f"LIST#{list_id}", list_id=list_id,
                                   name=f"list {len(self.lists)}", created_at=now_iso(), contact_count=0))
        for start in range(0, len(emails), 1000):
            body = [{"email": e, "attributes": {"first_name": e.split("@")[0]}} for e in emails[start:start + 1000]]
            contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), self.account_id, list_id, body)
        self.lists.append(list_id)
        return list_id

    def campaign(self, list_ids: list[str], html: str = HTML) -> str:
        view = campaigns.create(CampaignRepo(), ListRepo(), wiring.signer(), self.account_id, "Acme",
                                {"name": "Nov", "subject": "Hi {{ contact.first_name }}",
                                 "from_email": f"news@{self.sender_domain}", "from_name": "Acme", "list_ids": list_ids,
                                 "html": html, "text": "Hi {{ contact.first_name }}"}, BASE,
                                senders=wiring.sender_check())
        lifecycle.start_send(CampaignRepo(), self.queue, DISPATCH_Q, self.account_id, view["id"], BASE,
                             senders=wiring.sender_check())
        return str(view["id"])

    def run_dispatch(self, time_left: float = 60.0) -> None:
        """Run dispatch jobs (continuations too); finalize jobs wait for finalize()."""
        while jobs := [j for j in self.queue.drain(DISPATCH_Q) if not self._park(j)]:
            for job in jobs:
                dispatch(job, self.deps, lambda: time_left)

    def _park(self, job: dict[str, Any]) -> bool:
        if job.get("kind") == "finalize":
            self.finalize_jobs.append(job)
            return True
        return False

    def finalize(self) -> None:
        """Deliver the waiting finalize jobs, as SQS does once their delay has passed."""
        self.run_dispatch()
        jobs, self.finalize_jobs = self.finalize_jobs, []
        for job in jobs:
            dispatch(job, self.deps, lambda: 60.0)
        self.run_dispatch()  # parks the next check of a campaign that is not settled yet

    def send_messages(self) -> list[dict[str, Any]]:
        return self.queue.drain(SEND_Q)

    def deliver(self, bodies: list[dict[str, Any]]) -> None:
        for body in bodies:
            send_batch(body, self.deps)

    def run_all(self) -> None:
        self.run_dispatch()
        while bodies := self.send_messages():
            self.deliver(bodies)
        self.finalize()

    def recipients_sent(self) -> list[str]:
        return [e.to_address for e in self.ses.sent]

    def stats(self, campaign_id: str) -> dict[str, Any]:
        self.finalize()
        roll_up()  # the ledger's stream into the stats roll-up, as StatsRollupFunction does in AWS
        item = campaigns.require(CampaignRepo(), self.account_id, campaign_id, consistent=True)
        return report(item, wiring.rollup_store())


def make_world() -> World:
    wiring.reset()
    wiring.bound()
    account, _key = tenants.sign_up(AccountRepo(), "Acme", f"owner-{new_id()[:8]}@acme.test", "correct horse 1")
    queue = FakeQueue()
    ses = FakeSender()
    deps = SendDeps(
        campaigns=CampaignRepo(), accounts=AccountRepo(), audience=wiring.targeting(), batch_state=wiring.batch_state(),
        senders=wiring.sender_check(),
        ledger=wiring.ledger(), counters=wiring.counters(), queue=queue, ses=ses,
        signer=wiring.signer(), send_queue_url=SEND_Q, dispatch_queue_url=DISPATCH_Q,
        pool=ThreadPoolExecutor(8),
        throttle_sleep=lambda _seconds: None,  # SES backoff inside an invocation: no real waiting in tests
    )
    # campaigns send only from a verified domain of their tenant; each world has its own
    sender_domain = f"w{str(account['id'])[:12]}.acme.test"
    domains.add(DomainRepo(), FakeIdentities(verify_at_once=True), str(account["id"]), sender_domain)
    return World(str(account["id"]), deps, queue, ses, sender_domain=sender_domain)
