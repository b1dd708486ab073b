"""Who listens to a tenant's events: its webhook endpoints (the event types each asked for) and its
active automations (a trigger per list). Two Queries per tenant, read once per stream batch by the
event layer (beacon.tracking.domain_events), so events nobody listens to never reach the queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from beacon.db.automations import Automations
from beacon.db.webhooks import Webhooks


@dataclass(frozen=True)
class Wants:
    types: frozenset[str] = frozenset()  # event types some enabled endpoint asked for
    machine_types: frozenset[str] = frozenset()  # ... and also wants machine opens/clicks of
    automation_lists: frozenset[str] = frozenset()  # lists with an active automation
    endpoints: tuple[str, ...] = field(default=())

    def wants(self, event_type: str, machine: bool, list_id: str | None, automations: bool) -> bool:
        if automations and list_id is not None and list_id in self.automation_lists:
            return True
        return event_type in (self.machine_types if machine else self.types)


class Listeners:
    def __init__(self, webhooks: Webhooks, automations: Automations) -> None:
        self._webhooks = webhooks
        self._automations = automations

    def of(self, account_id: str) -> Wants:
        types: set[str] = set()
        machine: set[str] = set()
        endpoints: list[str] = []
        for endpoint in self._webhooks.all(account_id):
            if endpoint.get("status") != "enabled":
                continue
            endpoints.append(str(endpoint["webhook_id"]))
            kinds = set(endpoint.get("events") or [])
            types |= kinds
            if endpoint.get("include_machine"):
                machine |= kinds
        return Wants(frozenset(types), frozenset(machine), frozenset(self._automations.active_lists(account_id)),
                     tuple(endpoints))
