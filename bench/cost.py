"""The AWS bill of a reference month, built from what this run measures (`make bench`):

    1,000,000 emails of the shared newsletter (bench/newsletter.html), 1,000,000 opens,
    200,000 clicks, 20,000 unsubscribe page views, the campaign's stats read every 10 s while it sends.

How: a scaled-down month runs on moto in this process through Beacon's own handlers, loaded from
functions/ as Lambda loads them: a 1,000-recipient campaign dispatched and sent (SES answered by an
in-memory sender: SES is priced per email), an SES Send and Delivery notification per email through
ses_events, 1,000 opens, 200 clicks and 20 unsubscribe page views through the tracking and
unsubscribe handlers, the ledger's stream through stats_rollup, the stats read through the API.
bench/_meter.py records every AWS call, the DynamoDB read/write units from the sizes of the items
each call touched (DynamoDB's rules: transactions double, index entries count, failed conditions
are billed), Beacon's own CPU time (moto's is taken out) and the bytes the handlers log. Each figure
is scaled to the month; the template (template.yaml) gives memory sizes, tracing, log settings,
alarms, queues and the sending rates. Prices: PRICES (us-east-1, arm64, list prices without any
free tier; `cost_usd_with_always_free_tier` applies the always-free tier). What is modelled rather
than measured is in ASSUMPTIONS and written to results.json beside the bill.
"""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for extra in (ROOT, ROOT / "layers" / "core", ROOT / "local", HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Beacon")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "beacon")

import moto  # noqa: E402,F401  (before any botocore session)
from _meter import Meter, Usage, item_size, load_handler, read_units  # noqa: E402

# ------------------------------------------------------------------------------------ the month
MONTH = {"emails": 1_000_000, "opens": 1_000_000, "clicks": 200_000, "unsubscribe_views": 20_000,
         "stats_read_every_seconds": 10}
SECONDS_IN_MONTH = 30 * 86400
SCALE_EMAILS = 1000  # what this run sends on moto; opens, clicks, views in proportion

# List prices, us-east-1, arm64, as published on the AWS pricing pages (read 2026-12-03; the README
# names each page). No free tier here: `cost_usd_with_always_free_tier` applies it separately.
PRICES = {
    "ses_per_1000_emails": 0.10,
    "lambda_per_million_requests": 0.20,
    "lambda_arm_per_gb_second": 0.0000133334,
    "api_gateway_http_per_million": 1.00,
    "dynamodb_per_million_wru": 0.625,  # on-demand
    "dynamodb_per_million_rru": 0.125,
    "dynamodb_storage_per_gb_month": 0.25,
    "dynamodb_pitr_per_gb_month": 0.20,
    "sqs_per_million_requests": 0.40,
    "sns_per_million_publishes": 0.50,
    "cloudwatch_logs_ingest_per_gb": 0.50,
    "cloudwatch_logs_storage_per_gb_month": 0.03,
    "cloudwatch_alarm_per_month": 0.10,
    "cloudwatch_custom_metric_per_month": 0.30,
    "xray_per_million_traces": 5.00,
    "secrets_manager_per_secret_month": 0.40,
    "data_transfer_out_per_gb": 0.09,
}
ALWAYS_FREE = {  # per account and month (AWS Free Tier, "always free" offers)
    "lambda_requests": 1_000_000, "lambda_gb_seconds": 400_000, "sqs_requests": 1_000_000,
    "sns_publishes": 1_000_000, "cloudwatch_logs_gb": 5.0, "cloudwatch_alarms": 10, "cloudwatch_metrics": 10,
    "xray_traces": 100_000, "dynamodb_storage_gb": 25.0, "data_transfer_out_gb": 100.0,
}
ASSUMPTIONS: dict[str, Any] = {
    # in-region p50 latencies a handler waits on (its billed duration is CPU + these)
    "latency_ms": {"dynamodb": 5, "dynamodb.TransactWriteItems": 12, "dynamodb.BatchWriteItem": 8,
                   "dynamodb.BatchGetItem": 8, "sqs": 8, "ses": 40, "sesv2": 40},
    # Lambda gives a function 1 vCPU at 1,769 MB and a share of one below: CPU time measured here
    # (x86, one core) is stretched by 1769 / MemorySize below that
    "full_vcpu_mb": 1769,
    # what share of the month's opens and clicks come how long after the send (hours): the
    # usual newsletter curve, most in the first day; it sets how often the stats roll-up runs
    "open_curve": [[6, 0.35], [24, 0.20], [48, 0.20], [72, 0.10], [720, 0.15]],
    "stream_shards": 4,  # the ledger table's stream shards (an on-demand table's first partitions)
    "sqs_idle_pollers_per_mapping": 5,  # Lambda long-polls a queue with up to 5 pollers, 20 s each
    "cold_starts_per_function": 720,  # about one an hour for each function
    "api_response_bytes": 600,  # a pixel, a redirect or a JSON answer with its headers
}


# ------------------------------------------------------------------------------------ the template
@dataclass
class Facts:
    memory: dict[str, int]
    tracing: dict[str, str]
    system_log_level: str  # what Lambda writes itself (START/END/REPORT at INFO; none at WARN)
    access_log_bytes: int  # per API request, from the HTTP API's AccessLogSettings format
    alarms: int  # alarm metrics: what CloudWatch bills
    secrets: int
    sqs_mappings: int
    parameters: dict[str, Any]
    log_retention_days: int


def template_facts() -> Facts:
    from beacon_local.template import Template

    t = Template.load(ROOT / "template.yaml")
    glob = t.globals_function
    memory: dict[str, int] = {}
    tracing: dict[str, str] = {}
    levels = []
    for lid, spec in t.functions.items():
        props = t.resources[lid].get("Properties") or {}
        memory[lid] = spec.memory_size
        tracing[lid] = str(props.get("Tracing") or glob.get("Tracing") or "PassThrough")
        config = {**(glob.get("LoggingConfig") or {}), **(props.get("LoggingConfig") or {})}
        levels.append(str(config.get("SystemLogLevel") or "INFO"))
    access = 0
    for props in t.of_type("AWS::Serverless::HttpApi").values():
        fmt = (props.get("AccessLogSettings") or {}).get("Format")
        if isinstance(fmt, str):  # $context variables take about as much room as their names
            access = len(fmt.replace("\n", "")) + 1
    params = t.parameter_defaults()
    retention = params.get("LogRetentionDays") or 30
    return Facts(memory=memory, tracing=tracing,
                 system_log_level="WARN" if all(level in ("WARN", "ERROR", "FATAL") for level in levels) else "INFO",
                 access_log_bytes=access,
                 alarms=sum(_alarm_metrics(a) for a in t.of_type("AWS::CloudWatch::Alarm").values()),
                 secrets=len(t.secrets), sqs_mappings=len(t.sqs_event_sources), parameters=params,
                 log_retention_days=int(retention))


def _alarm_metrics(props: dict[str, Any]) -> int:
    """What CloudWatch bills an alarm as: $0.10 a month per metric it reads (a metric-math alarm
    pays for each MetricStat of its expression, not for the expression itself)."""
    metrics = props.get("Metrics")
    if isinstance(metrics, list):
        return sum(1 for m in metrics if isinstance(m, dict) and "MetricStat" in m)
    return 1


# ------------------------------------------------------------------------------------ measuring
@dataclass
class Measured:
    """Per-unit usage: per email (send, ses_events), per event (open, click, view, stats read),
    per roll-up invocation of 1 and of 100 records, per dispatch page and per sweep."""

    units: dict[str, Usage] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)  # how many of each unit the run measured
    send_queue_messages_per_email: float = 0.0
    sqs_requests_per_email: float = 0.0
    item_bytes_per_email: float = 0.0  # the ledger item a send leaves (storage)

    def per(self, name: str) -> Usage:
        u, n = self.units[name], self.counts[name]
        out = Usage(calls=Counter({k: v / n for k, v in u.calls.items()}), rru=u.rru / n, wru=u.wru / n,
                    cpu=u.cpu / n, log_bytes=int(u.log_bytes / n))
        out.rru_by = defaultdict(float, {k: v / n for k, v in u.rru_by.items()})
        out.wru_by = defaultdict(float, {k: v / n for k, v in u.wru_by.items()})
        return out


def _context(name: str, memory: int) -> Any:
    from beacon_local.runtime import LambdaContext

    return LambdaContext(function_name=f"beacon-cost-{name}", memory_limit_in_mb=memory,
                         invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:beacon-cost-{name}",
                         timeout_seconds=60)


def _public(path_param: str, method: str = "GET", ua: str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", ip: str = "198.51.100.7"
            ) -> dict[str, Any]:
    return {"version": "2.0", "pathParameters": {"token": path_param}, "headers": {"user-agent": ua},
            "requestContext": {"http": {"method": method, "sourceIp": ip, "path": "/x"}}, "body": None,
            "isBase64Encoded": False}


def _api(method: str, path: str, key: str) -> dict[str, Any]:
    return {"version": "2.0", "routeKey": "ANY /v1/{proxy+}", "rawPath": path, "rawQueryString": "",
            "headers": {"authorization": f"Bearer {key}", "host": "api.example.com", "x-forwarded-proto": "https"},
            "requestContext": {"accountId": "123456789012", "apiId": "cost", "domainName": "api.example.com",
                               "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                        "sourceIp": "203.0.113.9", "userAgent": "bench"},
                               "requestId": str(uuid.uuid4()), "routeKey": "ANY /v1/{proxy+}", "stage": "$default",
                               "timeEpoch": 0},
            "pathParameters": {"proxy": path.removeprefix("/v1/")}, "isBase64Encoded": False}


def _sqs_event(body: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [{"messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": json.dumps(body),
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                         "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}


def _ses_notification(kind: str, account: str, campaign: str, rid: str, email: str, message_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"eventType": kind, "mail": {
        "timestamp": "2026-12-03T10:00:00.000Z", "source": "news@acme.test", "messageId": message_id,
        "destination": [email], "tags": {"account": [account], "campaign": [campaign], "recipient": [rid],
                                         "ses:configuration-set": ["beacon-cost"]}}}
    if kind == "Delivery":
        doc["delivery"] = {"timestamp": "2026-12-03T10:00:02.000Z", "processingTimeMillis": 1800,
                           "recipients": [email], "smtpResponse": "250 2.0.0 OK", "reportingMTA": "a8-1.smtp-out"}
    else:
        doc["send"] = {}
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
        "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": "arn:aws:sns:us-east-1:1:ses",
        "Message": json.dumps(doc), "Timestamp": "2026-12-03T10:00:02.000Z", "MessageAttributes": {}}}]}


@contextmanager
def _moto() -> Iterator[Any]:
    from moto import mock_aws

    from beacon_local.moto_patches import fast_transactions
    from beacon_local.resources import FAKE_CREDENTIALS, create_resources

    saved = dict(os.environ)
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws(), fast_transactions():
            resources = create_resources(ROOT / "template.yaml", stage="cost", region="us-east-1",
                                         secret="bench-cost-token-secret-0123456789abcdef")  # noqa: S106 (moto)
            os.environ.update(resources.environment())
            from beacon import wiring

            wiring.reset()
            wiring.bound()
            yield resources
            wiring.reset()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _stream_records(table: str, after: int) -> list[dict[str, Any]]:
    """The ledger's stream records from index `after` on (moto in this process), in Lambda's shape."""
    from moto.dynamodb.models import dynamodb_backends

    from beacon_local.streams import lambda_record

    shard = dynamodb_backends["123456789012"]["us-east-1"].get_table(table).stream_shard
    assert shard is not None
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/x"
    return [lambda_record(json.loads(json.dumps(r.to_json(), default=str)), arn, "us-east-1")
            for r in shard.items[after:]]


def measure() -> Measured:
    from beacon_local.streams import parse_pattern, passes, stream_event
    from beacon_local.template import Template

    html = (HERE / "newsletter.html").read_text()
    text = (HERE / "newsletter.txt").read_text()
    facts = template_facts()
    m = Measured()
    with _moto() as resources:
        from beacon import wiring
        from beacon.accounts import sender_domains, tenants
        from beacon.audience import contacts
        from beacon.campaigns import drafts, lifecycle
        from beacon.db.accounts import AccountRepo, ListRepo
        from beacon.db.campaigns import CampaignRepo
        from beacon.db.contacts import ContactRepo
        from beacon.db.domains import DomainRepo
        from beacon.db.models import ListItem
        from beacon.db.suppressions import SuppressionRepo
        from beacon.ports.identities import FakeIdentities
        from beacon.ports.ses import FakeSender
        from beacon.sending import pacing
        from beacon.shared.clock import epoch, now_iso
        from beacon.shared.ids import new_id, recipient_id

        account, key = tenants.sign_up(AccountRepo(), "Acme Outdoor", "owner@acme.test", "correct horse 1")
        aid = str(account["id"])
        sender_domains.add(DomainRepo(), FakeIdentities(verify_at_once=True), aid, "acme.test")
        list_id = new_id()
        ListRepo().create(ListItem(pk=f"A#{aid}", sk=f"LIST#{list_id}", list_id=list_id, name="Readers",
                                   created_at=now_iso(), contact_count=0))
        people = [f"reader{i:05d}@example.com" for i in range(SCALE_EMAILS)]
        for start in range(0, SCALE_EMAILS, 1000):
            contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), aid, list_id, [
                {"email": e, "attributes": {"first_name": f"R{i}", "city": "Lyon", "plan": "pro"}}
                for i, e in enumerate(people[start:start + 1000], start)])
        view = drafts.create(CampaignRepo(), ListRepo(), wiring.signer(), aid, "Acme Outdoor",
                             {"name": "November news", "subject": "{{ contact.first_name }}, our November picks",
                              "from_email": "news@acme.test", "from_name": "Acme Outdoor", "list_ids": [list_id],
                              "html": html, "text": text}, "https://t.acme.test", senders=lambda *_: True)
        cid = str(view["id"])
        stream_table = resources.tables["MessagesTable"]
        stream_start = len(_stream_records(stream_table, 0))

        # ---- send: the dispatch and send handlers, SES and SQS in memory (counted), pacing left out
        queue, ses = CountingQueue(), FakeSender()
        deps = wiring.send_deps()
        deps.queue, deps.ses, deps.pacer, deps.tenant_rate = queue, ses, pacing.Pacer(None), 1e6
        originals = wiring.send_deps, wiring.dispatch_deps
        wiring.send_deps = lambda: deps  # type: ignore[assignment,unused-ignore]
        wiring.dispatch_deps = lambda: deps  # type: ignore[assignment,unused-ignore]
        send, dispatch = load_handler("send"), load_handler("dispatch")  # they hold these deps from now on
        wiring.send_deps, wiring.dispatch_deps = originals  # type: ignore[assignment,unused-ignore]
        lifecycle.start_send(CampaignRepo(), queue, deps.dispatch_queue_url, aid, cid, "https://t.acme.test",
                             senders=wiring.sender_check())
        for name in ("send", "dispatch"):
            m.units[name], m.counts[name] = Usage(), 0
        while True:
            jobs = queue.drain(deps.dispatch_queue_url)
            batches = queue.drain(deps.send_queue_url)
            if not jobs and not batches:
                break
            for kind, bodies in (("dispatch", jobs), ("send", batches)):
                handler = dispatch if kind == "dispatch" else send
                for body in bodies:
                    with Meter(capture_logs=True) as u:
                        handler(_sqs_event(body), _context(kind, facts.memory[f"{kind.capitalize()}Function"]))
                    _add(m.units[kind], u)
                    m.counts[kind] += 1
        m.send_queue_messages_per_email = m.counts["send"] / SCALE_EMAILS
        m.sqs_requests_per_email = queue.requests / SCALE_EMAILS
        assert len(ses.sent) == SCALE_EMAILS
        ledger_items = [wiring.ledger().get(aid, cid, recipient_id(aid, e)) for e in people[:50]]
        m.item_bytes_per_email = sum(item_size(_raw(i)) for i in ledger_items if i) / max(1, len(ledger_items))

        # ---- SES events: a Send and a Delivery notification per email
        ses_events = load_handler("ses_events")
        m.units["ses_event"], m.counts["ses_event"] = Usage(), 0
        for i, email in enumerate(people):
            rid = recipient_id(aid, email)
            item = wiring.ledger().get(aid, cid, rid) or {}
            for kind in ("Send", "Delivery"):
                event = _ses_notification(kind, aid, cid, rid, email, str(item.get("ses_message_id") or f"m{i}"))
                with Meter(capture_logs=True) as u:
                    ses_events(event, _context("ses_events", facts.memory["SesEventsFunction"]))
                _add(m.units["ses_event"], u)
                m.counts["ses_event"] += 1

        # ---- opens, clicks, unsubscribe page views
        signer = wiring.signer()
        issued = epoch()
        pixel, click, unsubscribe = load_handler("track_open"), load_handler("track_click"), load_handler("unsubscribe")
        opens = int(SCALE_EMAILS * MONTH["opens"] / MONTH["emails"])
        clicks = int(SCALE_EMAILS * MONTH["clicks"] / MONTH["emails"])
        views = max(1, int(SCALE_EMAILS * MONTH["unsubscribe_views"] / MONTH["emails"]))
        agents = [("Mozilla/5.0", "17.58.1.2"),  # Apple Mail Privacy Protection
                  ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/126.0 Safari/537.36", "198.51.100.7"),
                  ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
                   "66.249.80.1")]
        for name, count, handler in (("open", opens, pixel), ("click", clicks, click),
                                     ("unsubscribe_view", views, unsubscribe)):
            m.units[name], m.counts[name] = Usage(), 0
            memory = facts.memory[{"open": "TrackOpenFunction", "click": "TrackClickFunction",
                                   "unsubscribe_view": "UnsubscribeFunction"}[name]]
            for n in range(count):
                rid = recipient_id(aid, people[(n * 7919) % (SCALE_EMAILS * 45 // 100)])  # ~45 % open or click
                if name == "open":
                    token = signer.open_token(aid, cid, rid, issued)
                elif name == "click":
                    token = signer.click_token(aid, cid, rid, issued, n % 3, "https://shop.acme.test/p")
                else:
                    token = signer.unsubscribe_token(aid, cid, rid, issued)
                ua, ip = agents[n % len(agents)]
                with Meter(capture_logs=True) as u:
                    answer = handler(_public(token, ua=ua, ip=ip), _context(name, memory))
                assert answer["statusCode"] in (200, 302), answer
                _add(m.units[name], u)
                m.counts[name] += 1

        # ---- the ledger's stream into stats_rollup: batches of 1 record (a quiet hour) and of 100 (a busy one)
        rollup = load_handler("stats_rollup")
        source = next(s for s in Template.load(ROOT / "template.yaml").stream_event_sources
                      if s.function == "StatsRollupFunction")
        filters = [parse_pattern(p) for p in source.filters]
        records = [r for r in _stream_records(stream_table, stream_start) if passes(filters, r)]
        m.counts["rollup_records"] = len(records)
        memory = facts.memory["StatsRollupFunction"]
        # every 7th record one at a time (a quiet hour), the others 100 at a time (a busy one); two
        # shards, each in its own order, so every record is applied once
        quiet = [r for n, r in enumerate(records) if n % 7 == 0]
        busy = [r for n, r in enumerate(records) if n % 7]
        for name, size, part, shard in (("rollup_1", 1, quiet, "a"), ("rollup_100", 100, busy, "b")):
            m.units[name], m.counts[name] = Usage(), 0
            for start in range(0, len(part), size):
                event = stream_event(part[start:start + size], shard_id=f"shardId-00000001700000000000-cost000{shard}",
                                     stream_arn="arn:x", window_seconds=source.tumbling_window_seconds, now=0.0)
                with Meter(capture_logs=True) as u:
                    rollup(event, _context("stats_rollup", memory))
                _add(m.units[name], u)
                m.counts[name] += 1

        # ---- the same stream into stream_events (the event layer) through its own filter, batches of
        # 1 and of 100 records as above; the tenant has no webhook and no automation, so it publishes nothing
        layer = load_handler("stream_events")
        source = next(s for s in Template.load(ROOT / "template.yaml").stream_event_sources
                      if s.function == "StreamEventsFunction" and s.table == "MessagesTable")
        filters = [parse_pattern(p) for p in source.filters]
        records = [r for r in _stream_records(stream_table, stream_start) if passes(filters, r)]
        m.counts["stream_events_records"] = len(records)
        memory = facts.memory["StreamEventsFunction"]
        arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{stream_table}/stream/2026-01-01T00:00:00.000"
        for name, size in (("stream_events_1", 1), ("stream_events_100", 100)):
            m.units[name], m.counts[name] = Usage(), 0
            part = records[:100] if size == 1 else records
            for start in range(0, len(part), size):
                event = stream_event(part[start:start + size], shard_id="shardId-00000001700000000000-cost000c",
                                     stream_arn=arn, window_seconds=0, now=0.0)
                with Meter(capture_logs=True) as u:
                    layer(event, _context("stream_events", memory))
                _add(m.units[name], u)
                m.counts[name] += 1

        # ---- the stats, read through the API; the once-a-minute sweep of scheduled campaigns
        api = load_handler("account")
        m.units["stats_read"], m.counts["stats_read"] = Usage(), 0
        for _ in range(20):
            with Meter(capture_logs=True) as u:
                answer = api(_api("GET", f"/v1/campaigns/{cid}/stats", key),
                             _context("account", facts.memory["AccountFunction"]))
            assert answer["statusCode"] == 200, answer
            _add(m.units["stats_read"], u)
            m.counts["stats_read"] += 1
        stats = json.loads(answer["body"])
        assert stats["sent"] == SCALE_EMAILS and stats["delivered"] == SCALE_EMAILS, stats
        assert stats["opens"]["unique"] == SCALE_EMAILS * 45 // 100 and stats["clicks"]["total"] == clicks, stats
        m.units["sweep"], m.counts["sweep"] = Usage(), 0
        for _ in range(10):
            with Meter(capture_logs=True) as u:
                dispatch(_sqs_event({"kind": "sweep"}), _context("dispatch", facts.memory["DispatchFunction"]))
            _add(m.units["sweep"], u)
            m.counts["sweep"] += 1
    return m


def _raw(item: dict[str, Any]) -> dict[str, Any]:
    """Ledger.get's plain values back to attribute values (for the item's size)."""
    out: dict[str, Any] = {}
    for k, v in item.items():
        out[k] = v if isinstance(v, dict) else {"S": str(v)}
    return out


def _add(total: Usage, u: Usage) -> None:
    total.metrics |= u.metrics
    total.calls.update(u.calls)
    total.rru += u.rru
    total.wru += u.wru
    for k, v in u.rru_by.items():
        total.rru_by[k] += v
    for k, v in u.wru_by.items():
        total.wru_by[k] += v
    total.cpu += u.cpu
    total.log_bytes += u.log_bytes


class CountingQueue:
    """The in-memory queue, counting the SQS requests a real one would make (10 messages a request)."""

    def __init__(self) -> None:
        from beacon.ports.queue import FakeQueue

        self.inner = FakeQueue()
        self.requests = 0

    def send(self, queue_url: str, bodies: list[dict[str, Any]], delay_seconds: int | list[int] = 0) -> None:
        self.requests += math.ceil(len(bodies) / 10)
        self.inner.send(queue_url, bodies, delay_seconds)

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        return self.inner.drain(queue_url)


# ------------------------------------------------------------------------------------ the bill
def _duration_ms(u: Usage, memory: int, extra_ms: float = 0.0) -> float:
    lat = ASSUMPTIONS["latency_ms"]
    waits = sum(n * lat.get(call, lat.get(call.split(".")[0], 5)) for call, n in u.calls.items())
    stretch = max(1.0, ASSUMPTIONS["full_vcpu_mb"] / memory)
    return u.cpu * 1000 * stretch + waits + extra_ms


def _rollup_invocations(records_per_month: dict[str, float], sending_seconds: float, window: float) -> float:
    """Invocations of the roll-up per month: per shard, a batch opens with its first record and
    closes `window` seconds later, so records arriving at rate r make r / (1 + r * window) batches a
    second. Deliveries arrive evenly while the campaign sends; opens and clicks along the open curve."""
    shards = ASSUMPTIONS["stream_shards"]
    total = 0.0
    spans = [(sending_seconds, records_per_month["delivered"])]
    previous = 0.0
    for hours, share in ASSUMPTIONS["open_curve"]:
        spans.append(((hours - previous) * 3600, records_per_month["engagement"] * share))
        previous = hours
    for seconds, records in spans:
        rate = records / seconds / shards
        total += shards * seconds * rate / (1 + rate * window)
    return total


def bill(m: Measured, facts: Facts) -> dict[str, Any]:
    from beacon.sending.batches import BATCH_SIZE
    from beacon.sending.dispatch import DISPATCH_LEAD_SECONDS, PAGE_SIZE
    from beacon_local.template import Template

    p = PRICES
    emails = MONTH["emails"]
    rate = float(facts.parameters["SendRatePerSecond"])
    tenant_rate = float(facts.parameters["TenantSendRatePerSecond"])
    concurrency = float(facts.parameters["SendMaxConcurrency"])
    sending_seconds = emails / min(rate, tenant_rate)
    stats_reads = sending_seconds / MONTH["stats_read_every_seconds"]
    per_email = SCALE_EMAILS
    # how many of each unit the month has, and each unit's usage
    units: dict[str, tuple[float, Usage, str]] = {
        "send": (m.counts["send"] / per_email * emails, m.per("send"), "SendFunction"),
        "dispatch": (m.counts["dispatch"] / per_email * emails, m.per("dispatch"), "DispatchFunction"),
        "ses_event": (2.0 * emails, m.per("ses_event"), "SesEventsFunction"),
        "open": (float(MONTH["opens"]), m.per("open"), "TrackOpenFunction"),
        "click": (float(MONTH["clicks"]), m.per("click"), "TrackClickFunction"),
        "unsubscribe_view": (float(MONTH["unsubscribe_views"]), m.per("unsubscribe_view"), "UnsubscribeFunction"),
        "stats_read": (stats_reads, m.per("stats_read"), "AccountFunction"),
        "sweep": (SECONDS_IN_MONTH / 60.0, m.per("sweep"), "DispatchFunction"),
    }
    # the stats roll-up: invocations from the arrival model, each costing a + b x records
    one, hundred = m.per("rollup_1"), m.per("rollup_100")
    records_month = {"delivered": float(emails), "engagement": float(MONTH["opens"] + MONTH["clicks"])}
    window = float(next(s for s in Template.load(ROOT / "template.yaml").stream_event_sources
                        if s.function == "StatsRollupFunction").batching_window_seconds)
    invocations = _rollup_invocations(records_month, sending_seconds, window)
    records_per = (records_month["delivered"] + records_month["engagement"]) / invocations
    per_record = _scale(_diff(hundred, one), 1 / 99)
    rollup = _sum(one, _scale(per_record, max(0.0, records_per - 1)))
    units["rollup"] = (invocations, rollup, "StatsRollupFunction")
    # the event layer on the same stream: the records its filter passes (deliveries, bounces and
    # complaints, opens, clicks: the roll-up's), in batches its own window closes
    layer_source = next(s for s in Template.load(ROOT / "template.yaml").stream_event_sources
                        if s.function == "StreamEventsFunction" and s.table == "MessagesTable")
    layer_invocations = _rollup_invocations(records_month, sending_seconds, float(layer_source.batching_window_seconds))
    layer_records_per = (records_month["delivered"] + records_month["engagement"]) / layer_invocations
    one, hundred = m.per("stream_events_1"), m.per("stream_events_100")
    per_record = _scale(_diff(hundred, one), 1 / 99)
    units["stream_events"] = (layer_invocations, _sum(one, _scale(per_record, max(0.0, layer_records_per - 1))),
                              "StreamEventsFunction")

    gb_seconds: dict[str, float] = defaultdict(float)
    requests: dict[str, float] = defaultdict(float)
    wru = rru = log_bytes = 0.0
    calls: dict[str, float] = defaultdict(float)
    batch_pace = BATCH_SIZE / min(rate / concurrency, tenant_rate)  # seconds a batch of 50 is paced over
    for name, (count, u, function) in units.items():
        memory = facts.memory[function]
        extra = 0.0
        if name == "send":  # waiting for its window (a batch arrives DISPATCH_LEAD_SECONDS early), then paced
            extra = (DISPATCH_LEAD_SECONDS + batch_pace) * 1000
        duration = math.ceil(_duration_ms(u, memory, extra))
        gb_seconds[function] += count * duration / 1000 * memory / 1024
        requests[function] += count
        wru += count * u.wru
        rru += count * u.rru
        platform = 0 if facts.system_log_level == "WARN" else 320  # START, END, REPORT lines
        log_bytes += count * (u.log_bytes + platform)
        for call, n in u.calls.items():
            calls[call] += count * n
    cold = ASSUMPTIONS["cold_starts_per_function"]
    for function, memory in facts.memory.items():  # init: ~1 s of CPU at a full vCPU, stretched
        gb_seconds[function] += cold * max(1.0, ASSUMPTIONS["full_vcpu_mb"] / memory) * memory / 1024
    api_requests = MONTH["opens"] + MONTH["clicks"] + MONTH["unsubscribe_views"] + stats_reads
    log_bytes += api_requests * facts.access_log_bytes
    # queues: what the handlers send (measured), Lambda's receive and delete of each message, its idle long polls
    sqs = m.sqs_requests_per_email * emails + calls["sqs.SendMessageBatch"] + calls["sqs.SendMessage"]
    sqs += 2 * (requests["SendFunction"] + requests["DispatchFunction"])
    sqs += 2 * units["sweep"][0]  # EventBridge's SendMessage of each sweep, and its delete
    idle = facts.sqs_mappings * ASSUMPTIONS["sqs_idle_pollers_per_mapping"] * SECONDS_IN_MONTH / 20
    storage_gb = emails * (m.item_bytes_per_email + 100) / 1e9  # the month's ledger items (+100 B each)
    traced = sum(requests[f] for f, mode in facts.tracing.items() if mode == "Active")
    emf = set().union(*(u.metrics for u in m.units.values()))
    metrics = len(emf)
    logs_gb = log_bytes / 1e9
    breakdown = {
        "ses": emails / 1000 * p["ses_per_1000_emails"],
        "lambda_requests": sum(requests.values()) / 1e6 * p["lambda_per_million_requests"],
        "lambda_gb_seconds": sum(gb_seconds.values()) * p["lambda_arm_per_gb_second"],
        "api_gateway": api_requests / 1e6 * p["api_gateway_http_per_million"],
        "dynamodb_writes": wru / 1e6 * p["dynamodb_per_million_wru"],
        "dynamodb_reads": rru / 1e6 * p["dynamodb_per_million_rru"],
        "dynamodb_storage": storage_gb * (p["dynamodb_storage_per_gb_month"] + p["dynamodb_pitr_per_gb_month"]),
        "sqs": (sqs + idle) / 1e6 * p["sqs_per_million_requests"],
        "sns": 2 * emails / 1e6 * p["sns_per_million_publishes"],
        "cloudwatch_logs": logs_gb * (p["cloudwatch_logs_ingest_per_gb"] + p["cloudwatch_logs_storage_per_gb_month"]),
        "cloudwatch_alarms_and_metrics": facts.alarms * p["cloudwatch_alarm_per_month"]
        + metrics * p["cloudwatch_custom_metric_per_month"],
        "xray": traced / 1e6 * p["xray_per_million_traces"],
        "secrets_manager": facts.secrets * p["secrets_manager_per_secret_month"],
        "data_transfer_out": api_requests * ASSUMPTIONS["api_response_bytes"] / 1e9 * p["data_transfer_out_per_gb"],
    }
    free = dict(breakdown)
    f = ALWAYS_FREE
    free["lambda_requests"] = max(0.0, sum(requests.values()) - f["lambda_requests"]) / 1e6 * \
        p["lambda_per_million_requests"]
    free["lambda_gb_seconds"] = max(0.0, sum(gb_seconds.values()) - f["lambda_gb_seconds"]) * \
        p["lambda_arm_per_gb_second"]
    free["sqs"] = max(0.0, sqs + idle - f["sqs_requests"]) / 1e6 * p["sqs_per_million_requests"]
    free["sns"] = max(0.0, 2 * emails - f["sns_publishes"]) / 1e6 * p["sns_per_million_publishes"]
    free["cloudwatch_logs"] = max(0.0, logs_gb - f["cloudwatch_logs_gb"]) * p["cloudwatch_logs_ingest_per_gb"]
    free["cloudwatch_alarms_and_metrics"] = (
        max(0, facts.alarms - f["cloudwatch_alarms"]) * p["cloudwatch_alarm_per_month"]
        + max(0, metrics - f["cloudwatch_metrics"]) * p["cloudwatch_custom_metric_per_month"])
    free["xray"] = max(0.0, traced - f["xray_traces"]) / 1e6 * p["xray_per_million_traces"]
    free["dynamodb_storage"] = max(0.0, storage_gb - f["dynamodb_storage_gb"]) * p["dynamodb_storage_per_gb_month"] + \
        storage_gb * p["dynamodb_pitr_per_gb_month"]
    free["data_transfer_out"] = 0.0
    detail = {
        "lambda_gb_seconds_by_function": {k: round(v) for k, v in sorted(gb_seconds.items())},
        "lambda_requests_by_function": {k: round(v) for k, v in sorted(requests.items())},
        "dynamodb_wru_millions": round(wru / 1e6, 3), "dynamodb_rru_millions": round(rru / 1e6, 3),
        "dynamodb_wru_per_email": round(sum(units[n][0] * units[n][1].wru for n in ("send", "dispatch", "ses_event"))
                                        / emails, 2),
        "dynamodb_wru_per_open": round(units["open"][1].wru, 2),
        "stats_rollup_invocations": round(invocations), "stats_rollup_records_per_invocation": round(records_per, 1),
        "stream_events_invocations": round(layer_invocations),
        "stream_events_records_per_invocation": round(layer_records_per, 1),
        "sqs_requests_millions": round((sqs + idle) / 1e6, 3), "sqs_idle_poll_millions": round(idle / 1e6, 3),
        "cloudwatch_logs_gb": round(logs_gb, 3), "alarms": facts.alarms, "custom_metrics": sorted(emf),
        "xray_traces": round(traced), "api_requests": round(api_requests), "stats_reads": round(stats_reads),
        "sending_hours": round(sending_seconds / 3600, 1),
        "send_seconds_per_batch": round(DISPATCH_LEAD_SECONDS + batch_pace, 1),
        "dispatch_pages": emails // PAGE_SIZE,
        "ms_per_invocation": {name: round(_duration_ms(u, facts.memory[fn]), 1) for name, (_c, u, fn) in units.items()},
        "log_bytes_per_invocation": {name: u.log_bytes for name, (_c, u, _fn) in units.items()},
    }
    return {"total": sum(breakdown.values()), "breakdown": breakdown, "free": sum(free.values()), "detail": detail}


def _scale(u: Usage, k: float) -> Usage:
    return Usage(calls=Counter({c: n * k for c, n in u.calls.items()}), rru=u.rru * k, wru=u.wru * k, cpu=u.cpu * k,
                 log_bytes=int(u.log_bytes * k))


def _sum(a: Usage, b: Usage) -> Usage:
    return Usage(calls=a.calls + b.calls, rru=a.rru + b.rru, wru=a.wru + b.wru, cpu=a.cpu + b.cpu,
                 log_bytes=a.log_bytes + b.log_bytes)


def _diff(a: Usage, b: Usage) -> Usage:
    calls = Counter({c: max(0.0, a.calls[c] - b.calls.get(c, 0)) for c in a.calls})
    return Usage(calls=calls, rru=max(0.0, a.rru - b.rru), wru=max(0.0, a.wru - b.wru), cpu=max(0.0, a.cpu - b.cpu),
                 log_bytes=max(0, a.log_bytes - b.log_bytes))


# ------------------------------------------------------------------------------------ stats read units
def stats_read_units() -> dict[str, Any]:
    """Read units of one GET /v1/campaigns/{id}/stats at 10k, 100k and 1M engaged recipients: the
    roll-up items are built by the roll-up's own per-item function over that many synthetic engaged
    ledger items (every kind of open and click, 30 links), their sizes measured, and the read's
    Query (the campaign's counter and roll-up items) and GetItem (the campaign) priced by DynamoDB's
    rules. The brute-force read it replaced (every engaged ledger item) is priced beside it."""
    from beacon.db.engagement import LINK_SHIFT
    from beacon.db.stats_rollup import SLOTS, watermark_name
    from beacon.tracking.engagement_stats import contribution

    html = (HERE / "newsletter.html").read_text()
    t0 = 1_800_000_000
    out: dict[str, Any] = {}
    before: dict[str, Any] = {}
    for engaged in (10_000, 100_000, 1_000_000):
        slots: list[Counter[str]] = [Counter() for _ in range(SLOTS)]
        ledger_bytes = 0
        for i in range(engaged):
            item: dict[str, Any] = {
                "pk": {"S": f"{'a' * 32}#{'c' * 32}#{i % 16:x}"}, "sk": {"S": f"{i:032x}"},
                "email": {"S": f"reader{i}@example.com"}, "recipient_key": {"S": f"{'a' * 32}#{i:032x}"},
                "status": {"S": "sent"}, "claim_id": {"S": "0123456789abcdef"}, "claimed_at": {"N": "1800000000.123"},
                "settled_at": {"S": "2027-01-15T08:00:00.000Z"}, "sent_at": {"S": "2027-01-15T08:00:00.000Z"},
                "ses_message_id": {"S": "0100018c-0123-4567-89ab-cdef01234567-000000"},
                "delivered_at": {"S": "2027-01-15T08:00:02.000Z"},
                "opens": {"N": str(1 + i % 3)}, "last_open_at": {"S": "2027-01-15T09:00:00.000Z"},
                "open_client": {"S": "desktop_browser"}}
            kind = ("human_opens", "machine_opens", "proxied_opens")[i % 3]
            item[kind] = {"N": str(1 + i % 3)}
            if kind != "machine_opens":
                item["first_human_open"] = {"N": str(t0 + (i % 86400))}
            if i % 5 == 0:
                link = i % 30
                at = t0 + 3600 + i % 100_000
                item.update({"clicks": {"N": "1"}, f"link_{link}": {"N": "1"},
                             "human_click_log": {"L": [{"N": str(at * LINK_SHIFT + link)}]},
                             "last_click_at": {"S": "2027-01-15T10:00:00.000Z"},
                             "click_client": {"S": "desktop_browser"}})
            ledger_bytes += item_size(item)
            slots[i % 4].update({k: v for k, v in contribution(item).items() if not k.startswith("t")})
        items = []
        for n, counters in enumerate(slots):
            for sk, part in ((f"r{n:02d}", {k: v for k, v in counters.items() if not k[:2].startswith("l")}),
                             (f"l{n:02d}", {k: v for k, v in counters.items() if k[0] == "l" and k[1].isdigit()})):
                if not part:
                    continue
                item = {"pk": {"S": f"{'a' * 32}#{'c' * 32}"}, "sk": {"S": sk}}
                item.update({k: {"N": str(v)} for k, v in part.items()})
                for shard in range(3):  # watermarks of the shards that wrote it in the last day
                    item[watermark_name(f"shardId-{n}-{shard}")] = {"M": {"s": {"S": "1" * 40}, "t": {"N": str(t0)}}}
                items.append(item)
        delivery = [{"pk": {"S": "x"}, "sk": {"S": f"s{n:02d}"}, "sent": {"N": str(engaged // 16)},
                     "skipped_suppressed": {"N": "12"}, "failed": {"N": "3"}, "bounced": {"N": "40"},
                     "complained": {"N": "2"}, "unsubscribed": {"N": "9"}} for n in range(16)]
        campaign = {"pk": {"S": "a" * 32}, "sk": {"S": "c" * 32}, "html": {"S": html},
                    "text": {"S": (HERE / "newsletter.txt").read_text()}, "links": {"L": [{"S": "https://x"}] * 30},
                    "name": {"S": "November news"}, "subject": {"S": "x" * 60}, "status": {"S": "sending"}}
        query = read_units(sum(item_size(i) for i in items + delivery), True)
        get = read_units(item_size(campaign), True)
        out[f"{engaged // 1000}k" if engaged < 1_000_000 else "1m"] = query + get
        # the brute force: a strongly consistent Query over every engaged item (16 partitions)
        before[f"{engaged // 1000}k" if engaged < 1_000_000 else "1m"] = round(
            16 * read_units(ledger_bytes // 16, True) + get)
    return {"stats_read_units": out, "stats_read_units_brute_force": before}


# ------------------------------------------------------------------------------------ run
def run() -> dict[str, Any]:
    facts = template_facts()
    measured = measure()
    result = bill(measured, facts)
    breakdown = {k: round(v, 3) for k, v in result["breakdown"].items()}
    figures: dict[str, Any] = {
        "cost_usd_per_1m_emails_1m_opens_200k_clicks": round(result["total"], 2),
        "cost_breakdown_usd": breakdown,
        "cost_usd_with_always_free_tier": round(result["free"], 2),
        "cost_detail": result["detail"],
        "cost_assumptions": {**ASSUMPTIONS, "month": MONTH, "prices_usd": PRICES,
                             "measured_at_scale_emails": SCALE_EMAILS},
    }
    figures.update(stats_read_units())
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        sys.stdout.write(f"{key}: {json.dumps(value, indent=1) if isinstance(value, dict) else value}\n")
