"""What the send pipeline needs, declared here as the small protocols it uses (beacon.db and
beacon.ports implement them; beacon.wiring builds the real ones, tests pass fakes or moto-backed ones).

`DispatchDeps` is what dispatch needs; `SendDeps` adds what a send batch needs (the ledger, SES,
the signer, the thread pool), so the dispatch function never builds an SES client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from beacon.sending.pacing import Pacer

if TYPE_CHECKING:
    from beacon.db.batch_state import BatchView
    from beacon.db.contacts import ContactRow
    from beacon.db.models import AccountItem, CampaignItem
    from beacon.db.send_ledger import Claim, Outcome
    from beacon.db.tenant_pace import Window
    from beacon.ports.queue import Queue
    from beacon.ports.ses import EmailSender
    from beacon.shared.tokens import TokenSigner

SEND_WORKERS = 50  # = BATCH_SIZE: a whole batch in flight at once (the SES and DynamoDB pools match)


class Campaigns(Protocol):
    def get(self, account_id: str, campaign_id: str, consistent: bool = False) -> CampaignItem | None: ...

    def transition(self, item: CampaignItem, from_status: str, to_status: str, now: str, *,
                   reason: str | None = None) -> bool: ...

    def start_scheduled(self, item: CampaignItem, now: str) -> bool: ...

    def checkpoint(self, item: CampaignItem, expected_seq: int, list_index: int, cursor: str | None,
                   added: int, done: bool, now: str) -> bool: ...

    def due(self, now: str, limit: int = 500) -> list[tuple[str, str]]: ...

    def record_segment(self, item: CampaignItem, definition: dict[str, Any]) -> bool: ...


class Audience(Protocol):
    """Who a campaign reaches (beacon.audience.targeting.Targeting): its lists or the original of a
    resend, minus the excluded lists, the subscribed contacts matching its segment, a page at a time."""

    def recipients_page(self, campaign: CampaignItem, index: int, cursor: dict[str, str] | None, limit: int
                        ) -> tuple[list[ContactRow], tuple[int, dict[str, str] | None] | None]:
        """The recipients among the next `limit` contacts from (source index, cursor), and the
        position after them (None after the last)."""
        ...

    def segment_definition(self, account_id: str, segment_id: str) -> dict[str, Any] | None:
        """The segment as it is now (recorded on the campaign at dispatch); None if it was deleted."""
        ...


class Accounts(Protocol):
    def get(self, account_id: str) -> AccountItem | None: ...


class BatchState(Protocol):
    def read(self, account_id: str, campaign_id: str, recipient_ids: Collection[str], *,
             full: bool = False, with_campaign: bool = True) -> BatchView:
        """The campaign's status (the whole item with `full`) and which recipients are suppressed,
        strongly consistent, in one read (`with_campaign` False: the suppressions only)."""
        ...


# (account_id, from_email) -> is from_email on a verified domain the account owns (cached briefly)
SenderCheck = Callable[[str, str], bool]


class SendLedger(Protocol):
    def claim_many(self, account_id: str, campaign_id: str, recipients: list[tuple[str, str]]
                   ) -> dict[str, Claim]: ...

    def release(self, account_id: str, campaign_id: str, recipient_id: str, claim_id: str) -> None: ...

    def settle(self, account_id: str, campaign_id: str, outcomes: list[Outcome], now_iso: str) -> int: ...


class CampaignCounters(Protocol):
    def read(self, account_id: str, campaign_id: str) -> dict[str, int]: ...


class TenantSchedule(Protocol):
    def reserve(self, account_id: str, recipients: int, rate: float, max_wait: float) -> Window: ...

    def plan(self, account_id: str, recipients: int, rate: float) -> float: ...

    def forget_queue(self, account_id: str) -> None: ...


@dataclass(kw_only=True)
class DispatchDeps:
    campaigns: Campaigns
    audience: Audience
    counters: CampaignCounters
    queue: Queue
    send_queue_url: str
    dispatch_queue_url: str
    # per-tenant rate (emails/s) and the shared schedule that enforces it; None = no tenant cap
    tenant_pace: TenantSchedule | None = None
    tenant_rate: float | None = None
    clock: Callable[[], float] = time.time

    def tenant_schedule(self) -> tuple[TenantSchedule, float] | None:
        """The shared schedule and the rate it holds each tenant to, when there is a tenant rate."""
        if self.tenant_pace is not None and self.tenant_rate:
            return self.tenant_pace, self.tenant_rate
        return None


@dataclass(kw_only=True)
class SendDeps(DispatchDeps):
    accounts: Accounts
    batch_state: BatchState
    senders: SenderCheck
    ledger: SendLedger
    ses: EmailSender
    signer: TokenSigner
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(SEND_WORKERS))
    pacer: Pacer = field(default_factory=lambda: Pacer(None))
    throttle_sleep: Callable[[float], None] = time.sleep
    sleep: Callable[[float], None] = time.sleep
