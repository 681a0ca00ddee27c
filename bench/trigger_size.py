"""What one ``PredictionTrigger`` for a batch costs in the metadata database, by number of ids.

The trigger's kwargs carry every id it waits for, so that a triggerer that restarts (or another
one that takes the trigger over) rebuilds it from its row alone. This prints, for each size, the
kwargs as JSON, the value Airflow stores in ``trigger.kwargs`` (serialized, then encrypted with
the Fernet key), and the event the batch's wait sends back, which carries counts, not ids.

    python -m bench trigger_size [--ids 1000 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import uuid

from cryptography.fernet import Fernet

# Airflow encrypts trigger kwargs with [core] fernet_key; a throwaway key measures the real size.
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())

from airflow.models.trigger import Trigger

from airflow_provider_vlm.client.waiting import WaitOutcome, WaitStatus
from airflow_provider_vlm.events import PredictionEvent
from airflow_provider_vlm.triggers.prediction import PredictionTrigger


def sizes(n: int) -> tuple[int, int, int]:
    """(kwargs JSON, stored encrypted kwargs, event JSON) in bytes for a wait on ``n`` ids."""
    ids = [str(uuid.uuid4()) for _ in range(n)]  # the dev server's and the platform's id form
    trigger = PredictionTrigger(ids, deadline=2e9, poll_interval=5.0, max_poll_interval=30.0)
    _, kwargs = trigger.serialize()
    stored = Trigger.encrypt_kwargs(kwargs)
    outcome = WaitOutcome(WaitStatus.SUCCESS, tuple(ids), f"all {n} predictions completed")
    event = PredictionEvent.from_outcome(outcome).to_dict()
    return len(json.dumps(kwargs)), len(stored), len(json.dumps(event))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, nargs="+", default=[1, 1000, 10000])
    args = parser.parse_args()
    print(f"{'ids':>7} {'kwargs JSON':>12} {'stored row':>11} {'per id':>7} {'event':>6}")
    for n in args.ids:
        kwargs, stored, event = sizes(n)
        print(f"{n:>7,} {kwargs:>12,} {stored:>11,} {stored / n:>7.1f} {event:>6,}")


if __name__ == "__main__":
    main()
