"""Resend to the people who did not read it: a new draft with the original's content, aimed at the
original's recipients without a human open (non_openers) or a human click (non_clickers).

The draft records `resend_of` (the original) and `resend_audience`, not a copied list of people:
when the draft is dispatched, beacon.audience.targeting reads the original's send ledger and takes
the recipients it was sent to that no person opened (or clicked) by then — an Apple MPP, scanner
or image-proxy open alone does not count as reading it (beacon.tracking.engagement_stats) — whose
contact is still subscribed (anyone unsubscribed, bounced, complained or suppressed since is left
out, as is an erased contact). The draft can be edited like any other, narrowed with segment_id or
exclude_list_ids, scheduled, and resent in turn.
"""

from __future__ import annotations

from typing import Any

from beacon.accounts.sender_domains import SenderCheck
from beacon.audience.targeting import RESEND_AUDIENCES
from beacon.campaigns.drafts import create, require, view
from beacon.db.accounts import ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.shared.errors import Conflict, invalid
from beacon.shared.tokens import TokenSigner

RESENDABLE = ("sent", "cancelled")  # its ledger is final: who got it is known
_LABEL = {"non_openers": "non-openers", "non_clickers": "non-clickers"}


def resend(repo: CampaignRepo, lists: ListRepo, signer: TokenSigner, account_id: str, company: str,
           campaign_id: str, audience: Any, subject: Any, base_url: str, *, senders: SenderCheck
           ) -> dict[str, Any]:
    """201 body of POST /v1/campaigns/{id}/resend: the new draft."""
    if audience not in RESEND_AUDIENCES:
        raise invalid("audience", f"must be {' or '.join(repr(a) for a in RESEND_AUDIENCES)}")
    if subject is not None and (not isinstance(subject, str) or not subject.strip()):
        raise invalid("subject", "must not be empty")
    original = require(repo, account_id, campaign_id, consistent=True)
    if original.status not in RESENDABLE:
        raise Conflict(f"only a sent (or cancelled) campaign can be resent; this campaign is {original.status}",
                       code="not_sent")
    fields = {k: v for k, v in view(original).items()
              if k in ("subject", "from_email", "from_name", "reply_to", "html", "text", "tracking")}
    suffix = f" (resend to {_LABEL[audience]})"
    fields.update(name=original.name[: 200 - len(suffix)] + suffix, list_ids=[], resend_of=original.campaign_id,
                  resend_audience=audience)
    if subject is not None:
        fields["subject"] = subject
    return create(repo, lists, signer, account_id, company, fields, base_url, senders=senders)
