"""Saved segments: create, read, change and delete them, and count who a segment reaches without
saving it. The rules are beacon.audience.segments; the reads behind a count are
beacon.audience.targeting."""

from __future__ import annotations

from typing import Any, Protocol

from beacon.audience.segments import SegmentProblem, parse, parse_name
from beacon.audience.targeting import COUNT_BUDGET, Target, Targeting
from beacon.db.models import CampaignItem, ListItem, SegmentItem
from beacon.db.segments import SegmentRepo
from beacon.shared.clock import now_iso
from beacon.shared.errors import Conflict, NotFound, Unprocessable, invalid
from beacon.shared.ids import is_id, new_id

MAX_COUNT_LISTS = 20


class CampaignReader(Protocol):
    def get(self, account_id: str, campaign_id: str, consistent: bool = False) -> CampaignItem | None: ...


class ListReader(Protocol):
    def get(self, account_id: str, list_id: str) -> ListItem | None: ...


def unprocessable(problem: SegmentProblem) -> Unprocessable:
    """The 422 of a bad segment: the message and details name the rule (by index) and its field."""
    return Unprocessable(str(problem), code="invalid_segment", details=problem.details())


def view(item: SegmentItem) -> dict[str, Any]:
    definition = item.definition or {}
    return {"id": item.segment_id, "name": item.name, "match": definition.get("match", "all"),
            "rules": list(definition.get("rules", [])), "created_at": item.created_at,
            "updated_at": item.updated_at}


def _definition(campaigns: CampaignReader, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of `{match, rules}`, after checking every rule and that each campaign an
    engagement rule names is one of this tenant's."""
    try:
        segment = parse(body)
    except SegmentProblem as exc:
        raise unprocessable(exc) from exc
    for index, rule in enumerate(segment.rules):
        if rule.kind == "campaign" and campaigns.get(account_id, rule.name) is None:
            raise unprocessable(SegmentProblem(f"rules[{index}].field", f"campaign {rule.name} not found", index))
    return segment.definition()


def _name(raw: Any) -> str:
    try:
        return parse_name(raw)
    except SegmentProblem as exc:
        raise unprocessable(exc) from exc


def require(segments: SegmentRepo, account_id: str, segment_id: str, consistent: bool = False) -> SegmentItem:
    item = segments.get(account_id, segment_id, consistent) if is_id(segment_id) else None
    if item is None:
        raise NotFound("segment not found")
    return item


def create(segments: SegmentRepo, campaigns: CampaignReader, account_id: str, body: dict[str, Any]
           ) -> dict[str, Any]:
    name = _name(body.get("name"))
    definition = _definition(campaigns, account_id, body)
    now = now_iso()
    segment_id = new_id()
    item = SegmentItem(pk=f"A#{account_id}", sk=f"SEGMENT#{segment_id}", segment_id=segment_id, name=name,
                       definition=definition, created_at=now, updated_at=now)
    segments.create(item)
    return view(item)


def update(segments: SegmentRepo, campaigns: CampaignReader, account_id: str, segment_id: str,
           changes: dict[str, Any]) -> dict[str, Any]:
    """Change the name, match or rules (what is not given stays). A campaign already dispatched
    keeps the definition it recorded; drafts and scheduled campaigns use the new one."""
    current = view(require(segments, account_id, segment_id, consistent=True))
    merged = {k: changes[k] if changes.get(k) is not None else current[k] for k in ("name", "match", "rules")}
    name = _name(merged["name"])
    definition = _definition(campaigns, account_id, merged)
    if not segments.update(account_id, segment_id, name, definition, now_iso()):
        raise NotFound("segment not found")
    return view(require(segments, account_id, segment_id, consistent=True))


def delete(segments: SegmentRepo, account_id: str, segment_id: str) -> None:
    """Delete a segment no draft or scheduled campaign is aimed at (409 names them)."""
    require(segments, account_id, segment_id)
    users = segments.used_by(account_id, segment_id)
    if users:
        raise Conflict(f"campaigns {', '.join(users[:5])} are aimed at this segment; change or delete them first",
                       code="segment_in_use", details={"campaign_ids": users})
    if not segments.delete(account_id, segment_id):
        raise NotFound("segment not found")


def _list_ids(lists: ListReader, account_id: str, raw: Any, field: str, required: bool) -> tuple[str, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_COUNT_LISTS or (required and not raw):
        raise invalid(field, f"must list {'1' if required else '0'} to {MAX_COUNT_LISTS} list ids")
    for list_id in raw:
        if not isinstance(list_id, str) or not is_id(list_id) or lists.get(account_id, list_id) is None:
            raise invalid(field, f"list {str(list_id)[:64]} not found")
    return tuple(dict.fromkeys(raw))


def count(targeting: Targeting, lists: ListReader, campaigns: CampaignReader, account_id: str,
          body: dict[str, Any]) -> dict[str, Any]:
    """How many subscribed contacts of `list_ids`, minus `exclude_list_ids`, match `{match, rules}`
    (no rules: all of them), without saving anything. Bounded work: at most COUNT_BUDGET contacts
    are read per request; past that the answer has `complete: false` and a `next_cursor` to send
    back with the same body."""
    list_ids = _list_ids(lists, account_id, body.get("list_ids"), "list_ids", required=True)
    excluded = _list_ids(lists, account_id, body.get("exclude_list_ids") or [], "exclude_list_ids", required=False)
    segment = None
    if body.get("rules"):
        definition = _definition(campaigns, account_id, body)
        segment = parse(definition)
    elif body.get("match", "all") not in ("all", "any"):
        raise unprocessable(SegmentProblem("match", 'must be "all" or "any"'))
    target = Target(list_ids, frozenset(excluded), segment)
    try:
        return targeting.count(account_id, target, body.get("cursor"), COUNT_BUDGET)
    except SegmentProblem as exc:  # a cursor of another count
        raise unprocessable(exc) from exc
