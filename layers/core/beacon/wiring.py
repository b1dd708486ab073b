"""The one place that builds the real repositories and ports (cached per container).

Handlers ask for what they need; tests build the same objects over moto or pass fakes.
Nothing here is imported by the tracking handlers except through `tracking_deps`, which avoids
PynamoDB, Jinja2 and pydantic.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from beacon.shared.config import Settings, get_settings
from beacon.shared.tokens import TokenSigner

if TYPE_CHECKING:
    from collections.abc import Callable

    from beacon.accounts.sender_domains import SenderCheck
    from beacon.audience.job_records import JobDeps
    from beacon.audience.signup import SignupDeps
    from beacon.audience.subscriptions import SubscriptionDeps
    from beacon.audience.targeting import Targeting
    from beacon.automations.progress import AutomationDeps
    from beacon.db.automations import Automations
    from beacon.db.batch_state import BatchStateReader
    from beacon.db.campaign_counters import Counters
    from beacon.db.engagement import Engagement
    from beacon.db.forms import FormRepo
    from beacon.db.recipient_ledger import RecipientLedger
    from beacon.db.send_ledger import Ledger
    from beacon.db.signups import SignupStore
    from beacon.db.stats_rollup import RollupStore
    from beacon.db.tenant_erasure import TenantEraser
    from beacon.db.tenant_pace import TenantPace
    from beacon.db.unsubscribe_view import UnsubscribeView
    from beacon.db.webhooks import Webhooks
    from beacon.ports.http_out import GuardedHttpOut
    from beacon.ports.identities import SesV2Identities
    from beacon.ports.queue import SqsQueue
    from beacon.ports.ses import SesV2Sender
    from beacon.sending.deps import DispatchDeps, SendDeps
    from beacon.tracking.domain_events import StreamDeps
    from beacon.tracking.ses_events import SesEventDeps
    from beacon.webhooks.deliveries import WebhookDeps


@lru_cache(maxsize=1)
def settings() -> Settings:
    return get_settings()


@lru_cache(maxsize=1)
def signer() -> TokenSigner:
    return TokenSigner(settings().token_secret)


@lru_cache(maxsize=1)
def bound() -> Settings:
    """Settings, after binding the PynamoDB models to the template's tables."""
    from beacon.db.connection import bind

    s = settings()
    bind(s)
    return s


def _raw_dynamodb() -> Any:
    from beacon.db.connection import raw_client

    s = settings()
    return raw_client(s.region, s.endpoint_url)


@lru_cache(maxsize=1)
def tracking_deps() -> tuple[Engagement, Counters]:
    from beacon.db.campaign_counters import Counters
    from beacon.db.engagement import Engagement

    s = settings()
    client = _raw_dynamodb()
    return Engagement(client, s.messages_table), Counters(client, s.stats_table)


@lru_cache(maxsize=1)
def counters() -> Counters:
    return tracking_deps()[1]


def engagement() -> Engagement:
    """Opens and clicks on the ledger items (the usual client): read for targeting (segments, resends);
    the stats read the roll-up (rollup_store)."""
    return tracking_deps()[0]


@lru_cache(maxsize=1)
def rollup_store() -> RollupStore:
    """The stats roll-up (stats table): written by the stats_rollup function, read by the stats."""
    from beacon.db.stats_rollup import RollupStore

    return RollupStore(_raw_dynamodb(), settings().stats_table)


@lru_cache(maxsize=1)
def tracking_engagement() -> Engagement:
    """The tracking handlers' one dependency: its client gives up within the handlers' time
    (beacon.shared.aws.TRACKING_*), and they wait on it at most
    beacon.tracking.opens_and_clicks.WRITE_BUDGET_SECONDS."""
    from beacon.db.engagement import Engagement
    from beacon.shared.aws import client

    s = settings()
    return Engagement(client("dynamodb", s.region, s.endpoint_url, 10, tracking=True), s.messages_table)


@lru_cache(maxsize=1)
def unsubscribe_view() -> UnsubscribeView:
    """The unsubscribe page's reads, on the raw client (no PynamoDB on the page's cold start)."""
    from beacon.db.unsubscribe_view import UnsubscribeView

    s = settings()
    return UnsubscribeView(_raw_dynamodb(), s.accounts_table, s.suppressions_table)


@lru_cache(maxsize=1)
def ledger() -> Ledger:
    from beacon.db.send_ledger import Ledger

    s = settings()
    return Ledger(_raw_dynamodb(), s.messages_table, s.stats_table)


@lru_cache(maxsize=1)
def queue() -> SqsQueue:
    from beacon.ports.queue import SqsQueue
    from beacon.shared.aws import client

    s = settings()
    return SqsQueue(client("sqs", s.region, s.endpoint_url))


@lru_cache(maxsize=1)
def ses() -> SesV2Sender:
    from beacon.ports.ses import SesV2Sender
    from beacon.sending.deps import SEND_WORKERS
    from beacon.shared.aws import client

    s = settings()
    return SesV2Sender(client("sesv2", s.region, s.endpoint_url, SEND_WORKERS), s.configuration_set,
                       direct=s.ses_direct)


@lru_cache(maxsize=1)
def tenant_pace() -> TenantPace:
    from beacon.db.tenant_pace import TenantPace

    return TenantPace(_raw_dynamodb(), settings().stats_table)


@lru_cache(maxsize=1)
def targeting() -> Targeting:
    """Who a campaign reaches (dispatch) and how many a segment would (the API's count)."""
    from beacon.audience.targeting import Targeting
    from beacon.db.contacts import ContactRepo
    from beacon.db.segments import SegmentRepo

    bound()
    return Targeting(ContactRepo(), engagement(), SegmentRepo())


@lru_cache(maxsize=1)
def dispatch_deps() -> DispatchDeps:
    """The dispatch function's needs: no SES client, no renderer."""
    from beacon.db.campaigns import CampaignRepo
    from beacon.sending.deps import DispatchDeps

    s = bound()
    return DispatchDeps(
        campaigns=CampaignRepo(), audience=targeting(), counters=counters(), queue=queue(),
        send_queue_url=s.send_queue_url, dispatch_queue_url=s.dispatch_queue_url,
        tenant_pace=tenant_pace(), tenant_rate=s.tenant_send_rate,
    )


@lru_cache(maxsize=1)
def batch_state() -> BatchStateReader:
    """A send batch's reads: its campaign and its recipients' suppressions, in one consistent call."""
    from beacon.db.batch_state import BatchStateReader

    s = settings()
    return BatchStateReader(_raw_dynamodb(), s.campaigns_table, s.suppressions_table)


@lru_cache(maxsize=1)
def send_deps() -> SendDeps:
    from beacon.accounts.sender_domains import cached
    from beacon.db.accounts import AccountRepo
    from beacon.sending.deps import SendDeps
    from beacon.sending.pacing import Pacer

    s = bound()
    d = dispatch_deps()
    return SendDeps(
        campaigns=d.campaigns, audience=d.audience, counters=d.counters, queue=d.queue,
        send_queue_url=d.send_queue_url, dispatch_queue_url=d.dispatch_queue_url,
        tenant_pace=d.tenant_pace, tenant_rate=d.tenant_rate,
        accounts=AccountRepo(), batch_state=batch_state(), senders=cached(batch_sender_check()),
        ledger=ledger(), ses=ses(), signer=signer(),
        # BEACON_SEND_RATE over the event source mapping's MaximumConcurrency: see sending.pacing.Pacer
        pacer=Pacer(s.send_rate / s.send_max_concurrency),
    )


@lru_cache(maxsize=1)
def sender_check() -> SenderCheck:
    """Is a from address on a verified sender domain of the tenant (stored domains, re-read from SES)?"""
    from beacon.accounts.sender_domains import sender_check as check
    from beacon.db.domains import DomainRepo

    bound()
    return check(DomainRepo(), identities())


def batch_sender_check() -> SenderCheck:
    """The sender rule for send batches: the stored domain status and claim (no SES call, no write)."""
    from beacon.accounts.sender_domains import sender_check as check
    from beacon.db.domains import DomainRepo

    bound()
    return check(DomainRepo(), None)


@lru_cache(maxsize=1)
def subscription_deps() -> SubscriptionDeps:
    """Plain botocore only: the one-click unsubscribe path stays free of PynamoDB (cold start)."""
    from beacon.audience.subscriptions import SubscriptionDeps
    from beacon.db.subscription_store import SubscriptionStore

    s = settings()
    store = SubscriptionStore(_raw_dynamodb(), s.contacts_table, s.suppressions_table, s.events_table,
                              s.event_retention_days)
    return SubscriptionDeps(store, ledger())


@lru_cache(maxsize=1)
def form_repo() -> FormRepo:
    """Signup forms, on the raw client (the public form page loads no PynamoDB)."""
    from beacon.db.forms import FormRepo

    return FormRepo(_raw_dynamodb(), settings().accounts_table)


@lru_cache(maxsize=1)
def signup_store() -> SignupStore:
    """Consent records, pending signups and their confirmation, on the raw client."""
    from beacon.db.signups import SignupStore

    s = settings()
    return SignupStore(_raw_dynamodb(), s.accounts_table, s.contacts_table, s.suppressions_table, s.events_table,
                       s.event_retention_days)


@lru_cache(maxsize=1)
def signup_deps() -> SignupDeps:
    """The signup function's needs: the store, SES and the sender check for the confirmation email."""
    from beacon.audience.signup import SignupDeps

    return SignupDeps(signup_store(), ses(), signer(), sender_check())


@lru_cache(maxsize=1)
def ses_event_deps() -> SesEventDeps:
    from beacon.db.audit_log import EventRepo
    from beacon.db.contacts import ContactRepo
    from beacon.db.suppressions import SuppressionRepo
    from beacon.tracking.ses_events import SesEventDeps

    s = bound()
    from beacon.db.campaigns import CampaignRepo

    return SesEventDeps(ledger(), counters(), SuppressionRepo(), ContactRepo(),
                        EventRepo(s.event_retention_days), campaigns=CampaignRepo(),
                        pause_bounce_rate=s.auto_pause_bounce_rate, pause_complaint_rate=s.auto_pause_complaint_rate,
                        pause_min_sends=s.auto_pause_min_sends, tenant_pace=tenant_pace())


@lru_cache(maxsize=1)
def recipient_ledger() -> RecipientLedger:
    """One person's ledger items across campaigns (contact export and erasure)."""
    from beacon.db.recipient_ledger import RecipientLedger

    return RecipientLedger(_raw_dynamodb(), settings().messages_table)


@lru_cache(maxsize=1)
def identities() -> SesV2Identities:
    from beacon.ports.identities import SesV2Identities
    from beacon.shared.aws import client

    s = settings()
    return SesV2Identities(client("sesv2", s.region, s.endpoint_url))


def eraser(time_left: Callable[[], float]) -> TenantEraser:
    from beacon.db.tenant_erasure import TenantEraser

    return TenantEraser(_raw_dynamodb(), bound(), time_left)


@lru_cache(maxsize=1)
def job_deps() -> JobDeps:
    """Deleting lists, erasing accounts, importing big files in the background (the API starts them, the
    jobs function runs them)."""
    from beacon.audience.job_records import JobDeps
    from beacon.db.accounts import AccountRepo, ListRepo
    from beacon.db.contacts import ContactRepo
    from beacon.db.credentials import CredentialRepo
    from beacon.db.domains import DomainRepo
    from beacon.db.jobs import ImportFiles, JobRepo
    from beacon.db.suppressions import SuppressionRepo

    s = bound()
    return JobDeps(jobs=JobRepo(), queue=queue(), queue_url=s.jobs_queue_url, accounts=AccountRepo(),
                   credentials=CredentialRepo(), contacts=ContactRepo(), lists=ListRepo(), domains=DomainRepo(),
                   identities=identities(), eraser=eraser, settle_seconds=s.erasure_settle_seconds,
                   suppressions=SuppressionRepo(), files=ImportFiles(), sync_rows=s.import_sync_rows,
                   step_rows=s.import_step_rows)


# ----------------------------------------------------------------------------- events, automations, webhooks
@lru_cache(maxsize=1)
def automations() -> Automations:
    from beacon.db.automations import Automations

    s = settings()
    return Automations(_raw_dynamodb(), s.automations_table, s.stats_table)


@lru_cache(maxsize=1)
def webhooks() -> Webhooks:
    from beacon.db.webhooks import Webhooks

    return Webhooks(_raw_dynamodb(), settings().webhooks_table)


@lru_cache(maxsize=1)
def stream_deps() -> StreamDeps:
    """The event layer: which table a stream record comes from, who listens, the events queue."""
    from beacon.db.contacts import ContactRepo
    from beacon.db.listeners import Listeners
    from beacon.tracking.domain_events import StreamDeps

    s = bound()
    contacts = ContactRepo()

    def statuses(account_id: str, recipient_ids: list[str]) -> dict[str, str]:
        return {rid: item.status for rid, item in contacts.get_many(account_id, recipient_ids).items()}

    return StreamDeps(
        sources={s.messages_table: "messages", s.contacts_table: "contacts", s.suppressions_table: "suppressions",
                 s.campaigns_table: "campaigns"},
        listeners=Listeners(webhooks(), automations()), contact_statuses=statuses, queue=queue(),
        events_queue_url=s.events_queue_url,
    )


def _email_origin(account_id: str, campaign_id: str) -> dict[str, Any]:
    """The links of a campaign or automation step, and the automation and step of a step id."""
    from beacon.db.campaigns import CampaignRepo

    bound()
    step = automations().step_of(account_id, campaign_id)
    if step is not None:
        return step
    item = CampaignRepo().get(account_id, campaign_id)
    return {"links": list(item.links or [])} if item is not None else {}


def webhook_deps() -> WebhookDeps:
    """Per invocation (it caches the campaigns it looked up); the clients inside are cached."""
    from beacon.webhooks.deliveries import WebhookDeps

    s = settings()
    return WebhookDeps(webhooks=webhooks(), queue=queue(), queue_url=s.webhook_queue_url, dlq_url=s.webhook_dlq_url,
                       http=_http_out(), deployment_secret=s.token_secret, origin=_email_origin)


@lru_cache(maxsize=1)
def _http_out() -> GuardedHttpOut:
    from beacon.ports.http_out import GuardedHttpOut

    s = settings()
    return GuardedHttpOut(allow_local=s.webhooks_allow_local or s.webhooks_only_local, only_local=s.webhooks_only_local)


@lru_cache(maxsize=2)
def automation_deps(sending: bool = False) -> AutomationDeps:
    """`sending`: with the campaigns' send dependencies (the step sender; not the reactions function)."""
    from beacon.automations.progress import AutomationDeps
    from beacon.db.contacts import ContactRepo

    s = bound()
    return AutomationDeps(automations=automations(), contacts=ContactRepo(), ledger=ledger(), queue=queue(),
                          queue_url=s.automation_queue_url, send_deps=send_deps() if sending else None)


def reset() -> None:
    """Forget every cached setting, client and repository (tests that change the environment)."""
    import beacon.shared.aws
    import beacon.shared.config

    beacon.shared.config.get_settings.cache_clear()
    beacon.shared.aws.client.cache_clear()
    for cached in (settings, signer, bound, tracking_deps, tracking_engagement, counters, ledger, queue, ses,
                   tenant_pace, targeting, dispatch_deps, batch_state, send_deps, sender_check,
                   subscription_deps, ses_event_deps, identities):
        cached.cache_clear()
    recipient_ledger.cache_clear()
    unsubscribe_view.cache_clear()
    for forms_cached in (form_repo, signup_store, signup_deps):
        forms_cached.cache_clear()
    rollup_store.cache_clear()
    job_deps.cache_clear()
    for cached_too in (automations, webhooks, stream_deps, _http_out, automation_deps):
        cached_too.cache_clear()
