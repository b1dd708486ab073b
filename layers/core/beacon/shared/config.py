"""Settings read once from the environment (set by template.yaml, or by the local stack)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    stage: str
    token_secret: bytes
    public_base_url: str
    sender_email: str
    configuration_set: str
    send_rate: int
    event_retention_days: int
    accounts_table: str
    contacts_table: str
    campaigns_table: str
    messages_table: str
    suppressions_table: str
    stats_table: str
    events_table: str
    dispatch_queue_url: str
    send_queue_url: str
    region: str
    endpoint_url: str | None
    send_max_concurrency: int = 2
    tenant_send_rate: float | None = None  # emails/s per tenant; None: only the deployment's rate
    auto_pause_bounce_rate: float = 0.05
    auto_pause_complaint_rate: float = 0.001
    auto_pause_min_sends: int = 1000
    ses_direct: bool = True  # SendEmail through beacon.ports.ses_direct (BEACON_SES_DIRECT=0: the botocore client)
    signup_queue_url: str = ""  # form signups, processed off the request path (functions/signup)
    jobs_queue_url: str = ""  # list deletions and account erasures (beacon.audience.jobs)
    erasure_settle_seconds: int = 60  # an erasure waits this long for the stats roll-up's stream
    import_sync_rows: int = 5000  # a CSV import of more rows runs as a job (beacon.audience.import_job)
    import_step_rows: int = 2000  # rows an import job writes between two checkpoints
    # the event layer, automations and webhooks (issue 16)
    automations_table: str = ""
    webhooks_table: str = ""
    events_queue_url: str = ""
    automation_queue_url: str = ""
    webhook_queue_url: str = ""
    webhook_dlq_url: str = ""
    webhooks_allow_local: bool = False  # the local stack only: webhook URLs may be http://127.0.0.1
    webhooks_only_local: bool = False  # the local stack only: deliveries go nowhere but 127.0.0.1 (the API fuzz)


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    secret = _env("BEACON_TOKEN_SECRET")
    if len(secret) < 16:
        raise RuntimeError("BEACON_TOKEN_SECRET must be at least 16 characters")
    return Settings(
        stage=_env("BEACON_STAGE", "dev"),
        token_secret=secret.encode(),
        public_base_url=_env("BEACON_PUBLIC_BASE_URL", "").rstrip("/"),
        sender_email=_env("BEACON_SENDER_EMAIL", "no-reply@example.com"),
        configuration_set=_env("BEACON_CONFIGURATION_SET", ""),
        send_rate=int(_env("BEACON_SEND_RATE", "14")),
        event_retention_days=int(_env("BEACON_EVENT_RETENTION_DAYS", "400")),
        accounts_table=_env("ACCOUNTS_TABLE"),
        contacts_table=_env("CONTACTS_TABLE"),
        campaigns_table=_env("CAMPAIGNS_TABLE"),
        messages_table=_env("MESSAGES_TABLE"),
        suppressions_table=_env("SUPPRESSIONS_TABLE"),
        stats_table=_env("STATS_TABLE"),
        events_table=_env("EVENTS_TABLE"),
        dispatch_queue_url=_env("DISPATCH_QUEUE_URL", ""),
        send_queue_url=_env("SEND_QUEUE_URL", ""),
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        send_max_concurrency=max(1, int(_env("BEACON_SEND_MAX_CONCURRENCY", "2"))),
        tenant_send_rate=float(_env("BEACON_TENANT_SEND_RATE", "0")) or None,
        auto_pause_bounce_rate=float(_env("BEACON_AUTO_PAUSE_BOUNCE_RATE", "0.05")),
        auto_pause_complaint_rate=float(_env("BEACON_AUTO_PAUSE_COMPLAINT_RATE", "0.001")),
        auto_pause_min_sends=int(_env("BEACON_AUTO_PAUSE_MIN_SENDS", "1000")),
        ses_direct=_env("BEACON_SES_DIRECT", "1").strip().lower() not in ("0", "false", "no", "off"),
        signup_queue_url=_env("SIGNUP_QUEUE_URL", ""),
        jobs_queue_url=_env("JOBS_QUEUE_URL", ""),
        erasure_settle_seconds=max(1, min(900, int(_env("BEACON_ERASURE_SETTLE_SECONDS", "60")))),
        import_sync_rows=max(0, int(_env("BEACON_IMPORT_SYNC_ROWS", "5000"))),
        import_step_rows=max(1, min(5000, int(_env("BEACON_IMPORT_STEP_ROWS", "2000")))),
        automations_table=_env("AUTOMATIONS_TABLE", ""),
        webhooks_table=_env("WEBHOOKS_TABLE", ""),
        events_queue_url=_env("EVENTS_QUEUE_URL", ""),
        automation_queue_url=_env("AUTOMATION_QUEUE_URL", ""),
        webhook_queue_url=_env("WEBHOOK_QUEUE_URL", ""),
        webhook_dlq_url=_env("WEBHOOK_DLQ_URL", ""),
        webhooks_allow_local=_env("BEACON_WEBHOOKS_ALLOW_LOCAL", "0").strip().lower() in ("1", "true", "yes", "on"),
        webhooks_only_local=_env("BEACON_WEBHOOKS_ONLY_LOCAL", "0").strip().lower() in ("1", "true", "yes", "on"),
    )
