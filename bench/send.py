"""The send path: CPU per email against a floor, emails/s of one invocation, AWS calls per email.

- send_cpu_per_email_ms / send_cpu_ratio: `beacon.sending.send.send_batch` (the tenant's send window, claim,
  render, link rewrite, pixel, MIME, SES request, one settle per batch) with every AWS call
  answered in-process by a botocore `before-send` stub (botocore still serialises the request and
  parses the answer), over the floor of a bare Jinja2 render of the same template plus a bare
  SESv2 SendEmail of the same size through the same stub. time.process_time, medians of 9 runs
  each, path and floors interleaved. The path sends through beacon.ports.ses_direct, whose
  request costs ~40 % of botocore's; send_cpu_ratio_over_direct_floor is the path over a render
  plus that cheaper request, i.e. what Beacon adds on top of the SES call it makes.
- send_rate_per_invocation: emails/s of one send invocation (one SQS message of 50 recipients)
  when every SES call takes 50 ms; send_rate_sequential_floor = 1 / 50 ms.
- gate_reads_per_email: the send gate's re-checks (one BatchGetItem each) per email, at full speed (50
  SES calls in flight) and at the default tenant rate of 10/s on a fake clock (beacon.sending.gate; the
  batch's first read, which replaced two, is apart).
- aws_calls_per_email: botocore calls per email over a 1,000-recipient campaign on moto
  (dispatch + send + finalize; importing the contacts is not counted).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parent  # newsletter.html/.txt: the benchmark template every figure uses
for extra in (ROOT, ROOT / "layers" / "core", ROOT / "local"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import botocore.session  # noqa: E402
import jinja2  # noqa: E402
import moto  # noqa: E402,F401  (before any botocore session, beacon.shared.aws.SESSION included: aws_call_figures runs on moto)
from botocore.awsrequest import AWSResponse  # noqa: E402

from beacon.db.batch_state import BatchView  # noqa: E402
from beacon.db.campaign_counters import Counters  # noqa: E402
from beacon.db.models import CampaignItem  # noqa: E402
from beacon.db.send_ledger import Ledger  # noqa: E402
from beacon.db.tenant_pace import TenantPace  # noqa: E402
from beacon.ports.queue import FakeQueue  # noqa: E402
from beacon.ports.ses import FakeSender, OutgoingEmail, SesV2Sender  # noqa: E402
from beacon.ports.ses_direct import DirectSendEmail  # noqa: E402
from beacon.sending import batches, dispatch, pacing  # noqa: E402
from beacon.sending.deps import SEND_WORKERS, SendDeps  # noqa: E402
from beacon.sending.send import send_batch  # noqa: E402
from beacon.shared import aws  # noqa: E402
from beacon.shared.tokens import TokenSigner  # noqa: E402

HTML = (SHARED / "newsletter.html").read_text()
TEXT = (SHARED / "newsletter.txt").read_text()
ACCOUNT = "0123456789abcdef0123456789abcdef"
CAMPAIGN = "fedcba9876543210fedcba9876543210"
BATCH = batches.BATCH_SIZE


# ----------------------------------------------------------------------------- the botocore stub
class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


def _canned(operation: str) -> bytes:
    if operation == "SendEmail":
        return b'{"MessageId":"0100018c-bench-0000"}'
    if operation == "BatchGetItem":
        return b'{"Responses":{},"UnprocessedKeys":{}}'
    return b"{}"


def _stub(request: Any, event_name: str, **_kwargs: Any) -> AWSResponse:
    operation = event_name.rsplit(".", 1)[-1]
    headers: Any = {"Content-Type": "application/json", "x-amzn-RequestId": "bench"}
    return AWSResponse(request.url, 200, headers, _Raw(_canned(operation)))


def stubbed_clients(pool: int, production: bool = True) -> tuple[Any, Any]:
    """Clients built as beacon.shared.aws builds them (production) or with botocore's defaults (the floor)."""
    session = botocore.session.get_session()
    session.set_credentials("bench", "bench")
    if production:
        ddb, ses = (aws.quiet_gil(session.create_client(service, region_name="us-east-1", config=aws.config(pool)))
                    for service in ("dynamodb", "sesv2"))
    else:
        ddb, ses = (session.create_client(service, region_name="us-east-1") for service in ("dynamodb", "sesv2"))
    for client in (ddb, ses):
        client.meta.events.register("before-send", cast(Any, _stub))
    return ddb, ses


class _Campaigns:
    def __init__(self, item: CampaignItem) -> None:
        self.item = item

    def get(self, account_id: str, campaign_id: str, consistent: bool = False) -> CampaignItem:
        return self.item


class _Accounts:
    def get(self, account_id: str) -> Any:
        return type("Account", (), {"company": "Acme Outdoor",
                                    "postal_address": "Acme Outdoor Ltd\n12 Harbour Road\nPortland, OR 97201"})()


class _BatchState:
    """The batch's one read (campaign + suppressions, a BatchGetItem per batch of 50 in the real
    path, beacon.db.batch_state) is not part of this figure, as the campaign and suppression
    reads it replaces were not; at full speed the gate reads nothing more (gate_reads_per_email)."""

    def __init__(self, item: CampaignItem) -> None:
        self.view = BatchView("sending", frozenset(), item)
        self.reads = 0

    def read(self, account_id: str, campaign_id: str, recipient_ids: Any, *, full: bool = False) -> BatchView:
        self.reads += 1
        return self.view


def campaign_item() -> CampaignItem:
    return CampaignItem(pk=ACCOUNT, sk=CAMPAIGN, campaign_id=CAMPAIGN, name="November news",
                        subject="{{ contact.first_name }}, our November picks", from_email="news@acme.test",
                        from_name="Acme Outdoor", html=HTML, text=TEXT, track_opens=1, track_clicks=1,
                        status="sending", base_url="https://t.acme.test", created_at="x", updated_at="x")


def deps_for(ses: Any, ddb: Any, pool: Any) -> SendDeps:
    item = campaign_item()
    return SendDeps(campaigns=_Campaigns(item), accounts=_Accounts(),  # type: ignore[arg-type]
                    audience=None, batch_state=_BatchState(item), senders=lambda *_: True,  # type: ignore[arg-type]
                    ledger=Ledger(ddb, "messages", "stats"), counters=Counters(ddb, "stats"),
                    queue=FakeQueue(), ses=ses, signer=TokenSigner(b"bench-secret-0123456789abcdef"),
                    send_queue_url="q://send", dispatch_queue_url="q://dispatch", pool=pool,
                    # the tenant's schedule: its read and write per batch are part of the path; a
                    # rate no batch waits for
                    tenant_pace=TenantPace(ddb, "stats"), tenant_rate=1e6)


def body(start: int) -> dict[str, Any]:
    return {"account_id": ACCOUNT, "campaign_id": CAMPAIGN, "list_id": "0" * 32, "recipients": [
        {"rid": f"{i:032x}", "email": f"reader{i}@example.com",
         "attributes": {"first_name": f"Reader{i}", "city": "Lyon", "plan": "pro"}}
        for i in range(start, start + BATCH)]}


def _cpu(fn: Callable[[], None], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def cpu_figures(batches: int = 6, runs: int = 9) -> dict[str, float]:
    ddb, ses_client = stubbed_clients(SEND_WORKERS)
    pool = ThreadPoolExecutor(SEND_WORKERS)
    deps = deps_for(SesV2Sender(ses_client, "beacon-bench"), ddb, pool)
    send_batch(body(0), deps)  # warm: compile caches, botocore models
    jobs = iter([body(n * BATCH) for n in range(1, (runs + 1) * batches + 1)])  # new recipients each batch

    def the_path() -> None:
        for _ in range(batches):
            result = send_batch(next(jobs), deps)
            assert result.sent == BATCH, result

    env = jinja2.Environment(autoescape=True)
    html_t, text_t = env.from_string(HTML), env.from_string(TEXT)
    sample_raw = deps_for(FakeSender(), ddb, pool)
    send_batch(body(10**6), sample_raw)
    size = len(sample_raw.ses.sent[0].raw)  # type: ignore[attr-defined]
    raw = b"x" * size
    bare = stubbed_clients(1, production=False)[1]  # a botocore client as botocore builds it
    direct = SesV2Sender(stubbed_clients(1)[1], "beacon-bench")  # beacon.ports.ses_direct

    def contexts() -> Iterator[dict[str, Any]]:
        for i in range(batches * BATCH):
            yield {"contact": {"email": f"r{i}@example.com", "first_name": f"Reader{i}", "city": "Lyon",
                               "plan": "pro"}, "account": {"company": "Acme Outdoor"},
                   "campaign": {"name": "November news"}, "unsubscribe_url": f"https://t.acme.test/u/{i}"}

    def the_floor() -> None:
        for i, ctx in enumerate(contexts()):
            html_t.render(ctx)
            text_t.render(ctx)
            bare.send_email(FromEmailAddress="news@acme.test", Destination={"ToAddresses": [f"r{i}@example.com"]},
                            Content={"Raw": {"Data": raw}}, ConfigurationSetName="beacon-bench",
                            EmailTags=[{"Name": "account", "Value": ACCOUNT}, {"Name": "campaign", "Value": CAMPAIGN},
                                       {"Name": "recipient", "Value": f"{i:032x}"}])

    def the_direct_floor() -> None:  # the same, with Beacon's own SendEmail request
        for i, ctx in enumerate(contexts()):
            html_t.render(ctx)
            text_t.render(ctx)
            direct.send(OutgoingEmail("news@acme.test", f"r{i}@example.com", raw,
                                      {"account": ACCOUNT, "campaign": CAMPAIGN, "recipient": f"{i:032x}"}))

    the_floor()
    the_direct_floor()
    # the samples alternate (and which one goes first), so a slow spell of a shared machine lands
    # on all of them instead of skewing a ratio
    paths: list[float] = []
    floors: list[float] = []
    direct_floors: list[float] = []
    order = ((the_path, paths), (the_floor, floors), (the_direct_floor, direct_floors))
    for n in range(runs):
        for fn, samples in order[:: 1 if n % 2 else -1]:
            samples.append(_cpu(fn, 1))
    path, floor, direct_floor = (statistics.median(s) for s in (paths, floors, direct_floors))
    emails = batches * BATCH
    pool.shutdown()
    return {"send_cpu_per_email_ms": round(path / emails * 1000, 3),
            "send_floor_cpu_per_email_ms": round(floor / emails * 1000, 3),
            "send_cpu_ratio": round(path / floor, 2),
            # what Beacon adds over a render and its own (cheaper) SendEmail request
            "send_direct_floor_cpu_per_email_ms": round(direct_floor / emails * 1000, 3),
            "send_cpu_ratio_over_direct_floor": round(path / direct_floor, 2)}


def rate_figures(runs: int = 5) -> dict[str, float]:
    ddb, _ses = stubbed_clients(SEND_WORKERS)
    pool = ThreadPoolExecutor(SEND_WORKERS)
    deps = deps_for(FakeSender(latency=0.05), ddb, pool)
    send_batch(body(0), deps)
    rates = []
    for n in range(runs):
        start = time.perf_counter()
        result = send_batch(body((n + 1) * BATCH), deps)
        rates.append(result.sent / (time.perf_counter() - start))
    pool.shutdown()
    return {"send_rate_per_invocation": round(statistics.median(rates), 1), "send_rate_sequential_floor": 20.0}


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def _gate_reads(rate: float, batches: int) -> float:
    """A batch sent one email at a time at `rate` (SES calls of 50 ms), on a fake clock."""
    ddb, _ses = stubbed_clients(SEND_WORKERS)
    clock = _FakeClock()
    sender = FakeSender()
    accept = sender.send

    def slow_send(email: OutgoingEmail) -> str:
        clock.sleep(0.05)  # an SES call takes 50 ms
        return accept(email)

    sender.send = slow_send  # type: ignore[method-assign]
    pool = ThreadPoolExecutor(1)  # one email at a time: the fake clock stays in order
    deps = deps_for(sender, ddb, pool)
    deps.tenant_pace, deps.clock, deps.sleep = None, clock, clock.sleep
    deps.pacer = pacing.Pacer(rate, clock=clock, sleep=clock.sleep)
    state = cast(_BatchState, deps.batch_state)
    for n in range(batches):
        send_batch(body((n + 1) * BATCH), deps)
    pool.shutdown()
    return round((state.reads - batches) / (batches * BATCH), 3)  # the re-checks; each batch's first read apart


def _gate_reads_full_speed(batches: int) -> float:
    """A batch's 50 SES calls in flight at once (50 ms each, the real clock), as the send path runs."""
    ddb, _ses = stubbed_clients(SEND_WORKERS)
    pool = ThreadPoolExecutor(SEND_WORKERS)
    deps = deps_for(FakeSender(latency=0.05), ddb, pool)
    deps.tenant_pace = None
    state = cast(_BatchState, deps.batch_state)
    for n in range(batches):
        send_batch(body((n + 1) * BATCH), deps)
    pool.shutdown()
    return round((state.reads - batches) / (batches * BATCH), 3)


def gate_figures(batches: int = 4) -> dict[str, Any]:
    """The send gate's re-checks (beacon.sending.gate: one BatchGetItem each) per email: at full speed
    (50 SES calls of 50 ms in flight), and at the default tenant rate of 10 emails/s (a fake clock)."""
    return {"gate_reads_per_email": {"full_speed": _gate_reads_full_speed(batches),
                                     "10_per_s": _gate_reads(10.0, batches)}}


# ----------------------------------------------------------------------------- AWS calls over moto
@contextmanager
def counting() -> Iterator[tuple[Counter[str], threading.Event]]:
    """Count every botocore API call (Beacon's own session and PynamoDB's) while `on` is set."""
    from botocore.client import BaseClient

    client_class: Any = BaseClient
    calls: Counter[str] = Counter()
    on = threading.Event()
    original = client_class._make_api_call

    def counted(self: Any, operation_name: str, api_params: Any) -> Any:
        if on.is_set():
            service = self.meta.service_model.service_name
            calls["ses" if service == "sesv2" else service] += 1
            calls[f"{service}.{operation_name}"] += 1
        return original(self, operation_name, api_params)

    def counted_direct(self: Any, body: bytes) -> Any:  # SendEmail through beacon.ports.ses_direct
        if on.is_set():
            calls["ses"] += 1
            calls["sesv2.SendEmail"] += 1
        return original_direct(self, body)

    original_direct = DirectSendEmail._once
    client_class._make_api_call = counted
    DirectSendEmail._once = counted_direct  # type: ignore[method-assign]
    try:
        yield calls, on
    finally:
        client_class._make_api_call = original
        DirectSendEmail._once = original_direct  # type: ignore[method-assign]


def aws_call_figures(recipients: int = 1000) -> dict[str, Any]:
    from moto import mock_aws

    from beacon_local.moto_patches import fast_transactions
    from beacon_local.resources import FAKE_CREDENTIALS, create_resources

    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws(), fast_transactions():
        resources = create_resources(ROOT / "template.yaml", stage="bench", region="us-east-1",
                                     secret="bench-token-secret-0123456789abcdef")  # noqa: S106 (moto)
        os.environ.update(resources.environment())
        from beacon import wiring
        from beacon.accounts import sender_domains, tenants
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
        from beacon.shared.clock import now_iso
        from beacon.shared.ids import new_id

        wiring.reset()
        wiring.bound()
        resources.client("ses").verify_domain_identity(Domain="acme.test")
        account, _key = tenants.sign_up(AccountRepo(), "Acme", "owner@acme.test", "correct horse 1",
                                        "Acme Ltd\n12 Harbour Road\nPortland, OR 97201")
        account_id = str(account["id"])
        # the send checks the sender domain (cached 30 s per container): a verified domain of the account
        sender_domains.add(DomainRepo(), FakeIdentities(verify_at_once=True), account_id, "acme.test")
        list_id = new_id()
        ListRepo().create(ListItem(pk=f"A#{account_id}", sk=f"LIST#{list_id}", list_id=list_id, name="All",
                                   created_at=now_iso(), contact_count=0))
        people = [{"email": f"reader{i:04d}@example.com", "attributes": {"first_name": f"R{i}"}}
                  for i in range(recipients)]
        for start in range(0, recipients, 1000):
            contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), account_id, list_id,
                                 people[start:start + 1000])
        deps = wiring.send_deps()
        deps.pacer = pacing.Pacer(None)
        deps.tenant_rate = 1e6  # the tenant schedule's calls are counted, without its waits
        view = campaigns.create(CampaignRepo(), ListRepo(), wiring.signer(), account_id, "Acme",
                                {"name": "Bench", "subject": "Hi {{ contact.first_name }}",
                                 "from_email": "news@acme.test", "list_ids": [list_id], "html": HTML,
                                 "text": TEXT}, "https://t.acme.test", senders=lambda *_: True)
        sqs = resources.client("sqs")
        queues = {deps.dispatch_queue_url: "dispatch", deps.send_queue_url: "send"}
        with counting() as (calls, on):
            on.set()
            lifecycle.start_send(CampaignRepo(), deps.queue, deps.dispatch_queue_url, account_id, view["id"],
                                 "https://t.acme.test", senders=wiring.sender_check())
            on.clear()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                item = CampaignRepo().get(account_id, view["id"], consistent=True)
                if item is not None and item.status == "sent":
                    break
                idle = True
                for url, kind in queues.items():  # the event source mapping's work: not counted
                    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
                    for message in got.get("Messages", []):
                        idle = False
                        on.set()
                        job = json.loads(message["Body"])
                        if kind == "dispatch":
                            dispatch.dispatch(job, deps, lambda: 60.0)
                        else:
                            send_batch(job, deps)
                        on.clear()
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                if idle:
                    time.sleep(0.5)  # a finalize check waits out its delay
            final = CampaignRepo().get(account_id, view["id"], consistent=True)
            assert final is not None
            stats = report(final, wiring.rollup_store())
        wiring.reset()
    if stats["status"] != "sent" or stats["sent"] != recipients:
        raise RuntimeError(f"the bench campaign did not finish: {stats}")
    per_email = {service: round(calls[service] / recipients, 3) for service in ("ses", "dynamodb", "sqs")}
    detail = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()) if "." in k)
    sys.stdout.write(f"  AWS calls for {recipients} recipients: {detail}\n")
    return {"aws_calls_per_email": per_email}


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    figures.update(cpu_figures())
    figures.update(rate_figures())
    figures.update(gate_figures())
    figures.update(aws_call_figures())
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        sys.stdout.write(f"{key}: {value}\n")
