"""What atomic DynamoDB costs the local stack (issue 12): the same concurrent workload through the
local stack's moto server with its DynamoDB requests serialised (beacon_local.moto_patches, as
`beacon dev` runs) and without (moto as shipped), rounds interleaved, medians compared.

The workload is what a busy campaign puts on the ledger: 16 threads at once, each mixing opens
(UpdateItem ADD on a few items), SES-event transactions (ledger mark: a conditional update and a
counter ADD) and reads (GetItem). Without the lock the counts come out wrong (`lost_opens`).

Figures:
- local_moto_serialised_throughput_ratio: DynamoDB calls/s serialised over unserialised (1.0 = free)
- local_moto_serialised_calls_per_s / local_moto_unserialised_calls_per_s: for scale only
- local_moto_unserialised_lost_opens: opens that moto as shipped lost in its rounds (serialised: 0)
"""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
THREADS = 16
CALLS_PER_THREAD = 24
ITEMS = 4
ROUNDS = 3


def _round(ledger: Any, engagement: Any, account: str, campaign: str, rids: list[str]) -> tuple[float, int]:
    """One round: every thread's calls at once. Returns (seconds, opens recorded)."""
    go = threading.Event()
    opens = [0]
    count = threading.Lock()

    def worker(index: int) -> None:
        go.wait(10)
        for n in range(CALLS_PER_THREAD):
            rid = rids[(index + n) % len(rids)]
            kind = n % 4
            if kind in (0, 1):
                engagement.record_open(account, campaign, rid, kind="human", at=1_700_000_000,
                                       at_iso="2026-01-01T00:00:00+00:00", client="desktop_browser")
                with count:
                    opens[0] += 1
            elif kind == 2:
                ledger.mark(account, campaign, rid, f"seen_{index}_{n}", "delivered", "2026-01-01T00:00:00+00:00")
            else:
                ledger.get(account, campaign, rid)

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(worker, i) for i in range(THREADS)]
        started = time.perf_counter()
        go.set()
        for future in futures:
            future.result()
        return time.perf_counter() - started, opens[0]


def run() -> dict[str, object]:
    from beacon_local.moto_patches import fast_transactions, serialised_dynamodb
    from beacon_local.moto_server import MotoServer
    from beacon_local.resources import FAKE_CREDENTIALS, create_resources

    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    from beacon.db.engagement import Engagement
    from beacon.db.send_ledger import Ledger
    from beacon.shared.aws import client
    from beacon.shared.ids import new_id

    calls = THREADS * CALLS_PER_THREAD
    rates: dict[bool, list[float]] = {True: [], False: []}
    lost = 0
    with fast_transactions(), MotoServer() as moto:
        env = create_resources(ROOT / "template.yaml", "bench", moto.endpoint_url).environment()
        dynamodb = client("dynamodb", "us-east-1", moto.endpoint_url, THREADS * 2)
        ledger = Ledger(dynamodb, env["MESSAGES_TABLE"], env["STATS_TABLE"])
        engagement = Engagement(dynamodb, env["MESSAGES_TABLE"])
        for index in range(ROUNDS * 2):
            serialised = index % 2 == 1
            account, campaign = new_id(), new_id()
            rids = [new_id() for _ in range(ITEMS)]
            with serialised_dynamodb() if serialised else nullcontext():
                ledger.claim_many(account, campaign, [(rid, f"{rid}@example.com") for rid in rids])
                seconds, opens = _round(ledger, engagement, account, campaign, rids)
                counted = sum(int(item.get("opens", {}).get("N", 0))
                              for item in engagement.items(account, campaign, 0))
            if index >= 2:  # the first pair warms up
                rates[serialised].append(calls / seconds)
            if not serialised:
                lost += opens - counted
            elif counted != opens:
                raise AssertionError(f"serialised moto lost {opens - counted} opens")
    locked, unlocked = statistics.median(rates[True]), statistics.median(rates[False])
    return {
        "local_moto_serialised_throughput_ratio": round(locked / unlocked, 3),
        "local_moto_serialised_calls_per_s": round(locked),
        "local_moto_unserialised_calls_per_s": round(unlocked),
        "local_moto_unserialised_lost_opens": lost,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
