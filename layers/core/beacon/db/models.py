"""PynamoDB models. Every key starts with the tenant (account) id: no query can cross tenants.

Table names and the endpoint are bound at start-up by `beacon.db.connection.bind` (from template.yaml's
environment variables), never hard-coded.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model


class _Base(Model):
    class Meta:
        table_name = "unbound"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


# ---------------------------------------------------------------- accounts table
class AccountItem(_Base):
    """pk=A#{account_id} sk=PROFILE"""

    class Meta(_Base.Meta):
        pass

    account_id = UnicodeAttribute()
    company = UnicodeAttribute()
    email = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()
    # the law's footer (CAN-SPAM): in every campaign and confirmation email; required before the
    # first campaign send or form
    postal_address = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)  # "deleting" while the erasure job runs
    erasure_job = UnicodeAttribute(null=True)  # that job's id


class EmailClaimItem(_Base):
    """pk=E#{email} sk=CLAIM: makes an owner email unique across accounts."""

    class Meta(_Base.Meta):
        pass

    account_id = UnicodeAttribute()


class ApiKeyLookupItem(_Base):
    """pk=K#{sha256(key)} sk=KEY: resolves a bearer key to its tenant in one read."""

    class Meta(_Base.Meta):
        pass

    account_id = UnicodeAttribute()
    key_id = UnicodeAttribute()
    deleting = NumberAttribute(null=True)  # 1: the account is being erased (reads only)


class ApiKeyItem(_Base):
    """pk=A#{account_id} sk=KEY#{key_id}: the listable record of a key (never the secret)."""

    class Meta(_Base.Meta):
        pass

    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    prefix = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()


class SessionItem(_Base):
    """pk=S#{sha256(token)} sk=SESSION: resolves a session token in one read; DynamoDB TTL removes it."""

    class Meta(_Base.Meta):
        pass

    account_id = UnicodeAttribute()
    session_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute()  # epoch seconds; the table's TTL attribute
    deleting = NumberAttribute(null=True)  # 1: the account is being erased (reads only)


class ResetItem(_Base):
    """pk=R#{sha256(token)} sk=RESET: a single-use password-reset token; DynamoDB TTL removes it."""

    class Meta(_Base.Meta):
        pass

    account_id = UnicodeAttribute()
    reset_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute()


class OwnedRefItem(_Base):
    """pk=A#{account_id} sk=SESSION#{id} | RESET#{id}: the tenant's index of its lookup items
    (`ref` = their pk), so they can be revoked and erased; expires with them."""

    class Meta(_Base.Meta):
        pass

    ref = UnicodeAttribute()
    expires_at = NumberAttribute()


class ThrottleItem(_Base):
    """pk=T#{scope}#{sha256(subject)} sk=COUNT: failures in the current window; TTL ends the window."""

    class Meta(_Base.Meta):
        pass

    failures = NumberAttribute(default=0)
    expires_at = NumberAttribute()


class JobItem(_Base):
    """pk=J#{job_id} sk=JOB: a long operation of a tenant (deleting a list, erasing the account,
    importing a big CSV file), run by the jobs function; outside the tenant's partition so an erasure
    can report until its end. An import's partition also holds its step in progress (sk=STEP) and the
    skipped rows it keeps (sk=SKIP#{offset}); its file is in pk=J#{job_id}#{n} sk=CSV (beacon.db.jobs)."""

    class Meta(_Base.Meta):
        pass

    job_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # delete_list | erase_account | import_contacts
    target = UnicodeAttribute(null=True)  # the list id
    status = UnicodeAttribute(default="queued")  # queued | running | done | failed
    phase = UnicodeAttribute(default="")  # the step it is at (erase_account: identities, ledger, rest)
    done = NumberAttribute(default=0)  # items removed so far
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(default=0)  # epoch seconds: one worker at a time
    expires_at = NumberAttribute()  # TTL: a finished job's record goes after a week
    # import_contacts only (beacon.audience.import_job): the file's rows, where the import is, its summary
    total = NumberAttribute(null=True)  # the file's records (rows with an email or skipped)
    offset = NumberAttribute(null=True)  # parsed rows imported so far (the checkpoint)
    created = NumberAttribute(null=True)
    updated = NumberAttribute(null=True)
    skipped_count = NumberAttribute(null=True)  # all skipped rows (the first MAX_KEPT_SKIPPED are kept)
    chunks = NumberAttribute(null=True)  # the stored file's chunks (beacon.db.jobs.ImportFiles)
    options = UnicodeAttribute(null=True)  # JSON: consent_source, trigger_automations
    throttles = NumberAttribute(null=True)  # steps slowed down by DynamoDB throttling so far


class DomainItem(_Base):
    """pk=A#{account_id} sk=DOMAIN#{domain}: a sender domain of the tenant (an SES identity)."""

    class Meta(_Base.Meta):
        pass

    domain = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | verified | failed
    dkim_tokens: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    created_at = UnicodeAttribute()
    checked_at = UnicodeAttribute()


class DomainClaimItem(_Base):
    """pk=D#{domain} sk=CLAIM: a sender domain belongs to one tenant."""

    class Meta(_Base.Meta):
        pass

    account_id = UnicodeAttribute()


class ListItem(_Base):
    """pk=A#{account_id} sk=LIST#{list_id}"""

    class Meta(_Base.Meta):
        pass

    list_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()
    contact_count = NumberAttribute(default=0)


class SegmentItem(_Base):
    """pk=A#{account_id} sk=SEGMENT#{segment_id}: a saved segment (beacon.audience.segments)."""

    class Meta(_Base.Meta):
        pass

    segment_id = UnicodeAttribute()
    name = UnicodeAttribute()
    definition = JSONAttribute()  # {match, rules}, as beacon.audience.segments stores it
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


# ---------------------------------------------------------------- contacts table
class ContactItem(_Base):
    """pk={account_id} sk=C#{recipient_id}

    status: subscribed | pending (a form signup not confirmed yet: no campaign, no automation) |
    unsubscribed | complained | bounced | suppressed. `list_ids` holds only the lists the person is
    on for good (not the pending ones). A pending contact carries `expires_at` (the table's TTL): it
    disappears with its data unless confirmed (beacon.db.signups)."""

    class Meta(_Base.Meta):
        pass

    email = UnicodeAttribute()
    attributes = JSONAttribute(default=dict)
    status = UnicodeAttribute(default="subscribed")
    list_ids = UnicodeSetAttribute(default=set)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    consent_source = UnicodeAttribute(null=True)  # what the account said when it added the person
    expires_at = NumberAttribute(null=True)  # only while pending


class MembershipItem(_Base):
    """pk={account_id}#L#{list_id} sk={recipient_id}: one contact on one list.

    status: absent or "subscribed"; "pending" for a form signup not confirmed yet (then also
    `pending_key` for the table's sparse `pending` index and `expires_at`, its TTL). source: how the
    person got on the list: api | import | form (absent on items written before it existed)."""

    class Meta(_Base.Meta):
        pass

    email = UnicodeAttribute()
    created_at = UnicodeAttribute()
    status = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    pending_key = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    trigger_automations = BooleanAttribute(null=True)  # an import's membership may start automations (asked)


# ---------------------------------------------------------------- campaigns table
class CampaignsBySendAt(GlobalSecondaryIndex["CampaignItem"]):
    """Sparse: only a scheduled campaign carries `schedule_key`, so the sweep reads just those."""

    class Meta:
        index_name = "by_send_at"
        projection = KeysOnlyProjection()

    schedule_key = UnicodeAttribute(hash_key=True)
    send_at = UnicodeAttribute(range_key=True)


class CampaignItem(_Base):
    """pk={account_id} sk={campaign_id}"""

    class Meta(_Base.Meta):
        pass

    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    subject = UnicodeAttribute()
    from_email = UnicodeAttribute()
    from_name = UnicodeAttribute(default="")
    reply_to = UnicodeAttribute(default="")
    list_ids: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    html = UnicodeAttribute()
    text = UnicodeAttribute(default="")
    track_opens = NumberAttribute(default=1)
    track_clicks = NumberAttribute(default=1)
    links: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    status = UnicodeAttribute(default="draft")
    status_reason = UnicodeAttribute(default="")
    base_url = UnicodeAttribute(default="")
    recipients = NumberAttribute(default=0)
    batches = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    send_requested_at = UnicodeAttribute(null=True)
    dispatch_seq = NumberAttribute(default=0)
    dispatch_list_index = NumberAttribute(default=0)
    dispatch_cursor = UnicodeAttribute(null=True)
    dispatched_at = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    # targeting (beacon.audience.targeting): recipients are the subscribed contacts of list_ids (or,
    # for a resend, the original's recipients without a human open/click) minus exclude_list_ids,
    # matching the segment; the definition used is recorded at dispatch (segment_snapshot)
    segment_id = UnicodeAttribute(null=True)
    exclude_list_ids: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    segment_snapshot = JSONAttribute(null=True)  # {id, name, match, rules, updated_at}
    resend_of = UnicodeAttribute(null=True)  # the original campaign of a resend draft
    resend_audience = UnicodeAttribute(null=True)  # non_openers | non_clickers
    send_at = UnicodeAttribute(null=True)  # a scheduled send: ISO 8601 UTC
    schedule_key = UnicodeAttribute(null=True)  # "scheduled" while scheduled only: the sparse by_send_at index
    by_send_at = CampaignsBySendAt()


# ---------------------------------------------------------------- messages table = the send ledger
# One item per (campaign, recipient): read and written with plain botocore only, by
# beacon.db.send_ledger (claim, settle), beacon.db.engagement (opens and clicks) and
# beacon.db.recipient_ledger (one person's items), so it has no PynamoDB model here.


# ---------------------------------------------------------------- suppressions table
class SuppressionItem(_Base):
    """pk={account_id} sk={recipient_id}: this person gets no mail from this tenant."""

    class Meta(_Base.Meta):
        pass

    email = UnicodeAttribute(null=True)  # removed when the contact is erased; the hash stays
    reason = UnicodeAttribute()  # unsubscribe | complaint | bounce | manual
    created_at = UnicodeAttribute()
    campaign_id = UnicodeAttribute(null=True)


# ---------------------------------------------------------------- events table (TTL)
class EventItem(_Base):
    """pk={account_id}#{recipient_id} sk={iso time}#{kind}#{id}: audit and engagement events."""

    class Meta(_Base.Meta):
        pass

    kind = UnicodeAttribute()
    campaign_id = UnicodeAttribute(null=True)
    detail = JSONAttribute(default=dict)
    received_at = UnicodeAttribute()
    expires_at = NumberAttribute()


TABLE_OF_MODEL: dict[type[Model], str] = {
    AccountItem: "accounts_table",
    EmailClaimItem: "accounts_table",
    ApiKeyLookupItem: "accounts_table",
    ApiKeyItem: "accounts_table",
    ListItem: "accounts_table",
    SessionItem: "accounts_table",
    ResetItem: "accounts_table",
    OwnedRefItem: "accounts_table",
    ThrottleItem: "accounts_table",
    DomainItem: "accounts_table",
    DomainClaimItem: "accounts_table",
    SegmentItem: "accounts_table",
    JobItem: "accounts_table",
    ContactItem: "contacts_table",
    MembershipItem: "contacts_table",
    CampaignItem: "campaigns_table",
    SuppressionItem: "suppressions_table",
    EventItem: "events_table",
}
