"""Root test configuration.

moto is imported before anything creates a botocore session (such as `beacon.shared.aws.SESSION`):
moto hooks every session created after its import, so `mock_aws()` in the integration tests
intercepts Beacon's own clients too, whatever test module imported `beacon.shared.aws` first.

The slow kinds run first: `make test` spreads modules over processes (pytest-xdist, --dist
loadscope) in the order they are collected, so the long browser and end-to-end modules start at
once and the many short ones fill in around them, instead of one long module starting last and
running alone. Within a module the order is unchanged.
"""

from __future__ import annotations

import moto  # noqa: F401
import pytest

FIRST = ("tests/browser/", "tests/e2e/", "tests/integration/")  # the rest (unit) after these


def _rank(item: pytest.Item) -> int:
    path = item.nodeid
    return next((i for i, prefix in enumerate(FIRST) if path.startswith(prefix)), len(FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: each module keeps its own order
