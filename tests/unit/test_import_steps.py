"""An import judged in steps (beacon.audience.import_job) gives what judging the file at once gives:
`sort_entries` carries the addresses seen before across steps, so a duplicate of an earlier step's row
is skipped with the same reason, and the clean rows are the same in the same order."""

from __future__ import annotations

from typing import Any

import pytest

from beacon.audience.contacts import row_entries, sort_entries

ACCOUNT = "0" * 32


def rows() -> list[tuple[int, str, dict[str, Any]]]:
    out: list[tuple[int, str, dict[str, Any]]] = []
    for i in range(40):
        email = f"p{i}@example.com"
        if i in (9, 33):
            email = "p1@EXAMPLE.com"  # duplicates of row 3 (another step)
        elif i == 20:
            email = "not an address"
        out.append((i + 2, email, {"n": str(i)}))
    return out


@pytest.mark.parametrize("step", [1, 3, 7, 40, 100])
def test_judging_in_steps_is_judging_at_once(step: int) -> None:
    data = rows()
    whole = sort_entries(ACCOUNT, row_entries(data))
    seen: dict[str, dict[str, int]] = {}
    clean: dict[str, Any] = {}
    skipped: list[dict[str, Any]] = []
    for start in range(0, len(data), step):
        part = sort_entries(ACCOUNT, row_entries(data[start:start + step]), seen=seen)
        clean.update(part.clean)
        skipped.extend(part.skipped)
    assert list(clean.items()) == list(whole.clean.items())
    assert skipped == whole.skipped
    assert [s["row"] for s in skipped] == [11, 22, 35]
    assert skipped[0]["reason"] == "duplicate of row 3 (same address)"


def test_rebuilding_seen_from_the_rows_before_a_checkpoint() -> None:
    data = rows()
    seen: dict[str, dict[str, int]] = {}
    sort_entries(ACCOUNT, row_entries(data[:30]), seen=seen)  # what a later invocation does first
    rest = sort_entries(ACCOUNT, row_entries(data[30:]), seen=seen)
    assert [s["row"] for s in rest.skipped] == [35] and len(rest.clean) == 9
