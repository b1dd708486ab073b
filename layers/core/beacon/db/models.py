"""PynamoDB models. Every key starts with the tenant (account) id: no query can cross tenants.

Table names and the endpoint are bound at start-up by `beacon.db.bind` (from template.yaml's
environment variables), never hard-coded.
"""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
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


class ApiKeyItem(_Base):
    """pk=A#{account_id} sk=KEY#{key_id}: the listable record of a key (never the secret)."""

    class Meta(_Base.Meta):
        pass

    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    prefix = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()


class ListItem(_Base):
    """pk=A#{account_id} sk=LIST#{list_id}"""

    class Meta(_Base.Meta):
        pass

    list_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()
    contact_count = NumberAttribute(default=0)


# ---------------------------------------------------------------- contacts table
class ContactItem(_Base):
    """pk={account_id} sk=C#{recipient_id}"""

    class Meta(_Base.Meta):
        pass

    email = UnicodeAttribute()
    attributes = JSONAttribute(default=dict)
    status = UnicodeAttribute(default="subscribed")
    list_ids = UnicodeSetAttribute(default=set)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class MembershipItem(_Base):
    """pk={account_id}#L#{list_id} sk={recipient_id}: one contact on one list."""

    class Meta(_Base.Meta):
        pass

    email = UnicodeAttribute()
    created_at = UnicodeAttribute()


# ---------------------------------------------------------------- campaigns table
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


# ---------------------------------------------------------------- messages table (send ledger)
class MessageItem(_Base):
    """pk={account_id}#{campaign_id} sk={recipient_id}: one recipient of one campaign, once."""

    class Meta(_Base.Meta):
        pass

    email = UnicodeAttribute()
    status = UnicodeAttribute()  # sending | sent | failed | suppressed
    claimed_at = UnicodeAttribute()
    attempts = NumberAttribute(default=1)
    sent_at = UnicodeAttribute(null=True)
    ses_message_id = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)


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
    ContactItem: "contacts_table",
    MembershipItem: "contacts_table",
    CampaignItem: "campaigns_table",
    MessageItem: "messages_table",
    SuppressionItem: "suppressions_table",
    EventItem: "events_table",
}
