"""The cyclic garbage collector held off while one bulk operation allocates.

A CSV import of 100,000 rows allocates millions of short-lived dicts, tuples and strings, which
reference counting frees; none of them is in a cycle. Python's cyclic collector still runs every
700 net allocations and, as the live heap grows, walks all of it again (gen-2 passes): a quarter
of the import's CPU, measured by bench/throughput.py. `collection_paused` switches the automatic
collector off for the block and back on after it (it does not force a collection: whatever
cycles the block left are found by the next automatic pass, as before). A Lambda container
serves one request at a time, so nothing else runs in the process meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
