"""The soak, small: PostgreSQL, two triggerers, one SIGKILLed mid-wait; about 200 invoices.

The nightly example (one batch task over 200 e-invoices made unique, 4 of them broken) and 8
mapped single-document tasks run through a real scheduler, dag-processor, api-server and two
triggerers on a throwaway PostgreSQL cluster (LocalExecutor: Celery workers would add minutes on
two cores; ``make soak`` runs Celery). The triggerer holding the most triggers is killed while
they wait; the other must take them over, and nothing may be lost or submitted twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_mini_soak_survives_a_triggerer_kill(tmp_path: Path) -> None:
    pytest.importorskip("psycopg2", reason="needs the ha extra (PostgreSQL driver)")
    from soak.deploy import Settings
    from soak.run import Workload, run

    settings = Settings(
        tmp_path, executor="LocalExecutor", triggerers=2, storage="file", processing_time=40,
        error_rate=0, rate_limit_rate=0, drop_rate=0, parallelism=4,
    )  # fmt: skip
    work = Workload(
        docs=200, mapped_docs=8, sense_docs=0, plan=["triggerer_kill"], restart_killed=False, timeout_s=700
    )
    report = run(settings, work)
    print(json.dumps({k: v for k, v in report.items() if k != "settings"}, indent=1))

    assert report["lost"] == 0, report["lost_inputs"]
    assert report["duplicates"] == 0, report["duplicates_detail"]
    assert report["inputs"] == report["result_lines"] == 208
    assert report["runs_succeeded"] == len(report["runs"]) == 2, report["runs"]
    (fault,) = report["faults"]
    assert fault["kind"] == "triggerer_kill"
    assert fault["detail"]["takeover_s"] is not None
    # Broken inputs end as failed result lines, never as a second prediction.
    assert report["predictions"] <= report["inputs"]
