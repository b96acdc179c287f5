"""Local stack start, reset and stop times.

Usage: .venv/bin/python bench/stack.py [--resets 10] [--port-base 8900]
Starts its own stack on its own ports (so a running one is untouched), seeds a
little data before each reset so the reset has something to empty, and stops
everything it started.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from refrain.adapters.firestore import build_firestore
from refrain.adapters.pubsub import OrderedPublisher, build_publisher
from refrain.topology import SUBSCRIPTION_EVENTS
from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.manager import StackManager
from refrain_tools.stack.seed import pointed_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resets", type=int, default=10)
    parser.add_argument("--port-base", type=int, default=8900)
    args = parser.parse_args()

    state_dir = Path(tempfile.mkdtemp(prefix="refrain-bench-stack-"))
    manager = StackManager(StackConfig(port_base=args.port_base, state_dir=state_dir))
    up_s = manager.up()
    resets: list[float] = []
    try:
        with pointed_at(manager.config) as settings:
            db = build_firestore(settings)
            publisher = OrderedPublisher(build_publisher(settings), settings.project)
            for round_ in range(args.resets):
                batch = db.batch()
                for i in range(50):
                    batch.set(db.collection("bench").document(f"{round_}-{i}"), {"i": i})
                batch.commit()
                publisher.publish(SUBSCRIPTION_EVENTS, b"x", {"type": "bench"}, "k")
                resets.append(manager.reset())
    finally:
        started = time.monotonic()
        manager.down()
        down_s = time.monotonic() - started
    print(f"stack start (4 services, ready + provisioned): {up_s:.2f} s")
    print(
        f"stack reset (Firestore, Pub/Sub, BigQuery, SES; n={len(resets)}): "
        f"median {statistics.median(resets) * 1000:.0f} ms, max {max(resets) * 1000:.0f} ms"
    )
    print(f"stack stop (all process groups gone, ports closed): {down_s:.2f} s")


if __name__ == "__main__":
    main()
