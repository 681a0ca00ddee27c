"""The nightly example's review branch stays off unless asked for: ``make demo`` runs unattended.

Through ``dag.test()`` of the nightly DAG alone in its folder (the harness of
``test_nightly_without_logical_date.py``), over a night with one bad invoice and no ``review``
param: the run succeeds without waiting for anyone, the branch from ``review_wanted`` on is
skipped, ``invoices.jsonl`` keeps the flagged row unreviewed, and nothing reaches the dev
server's feedback route.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.example_dags import test_nightly_without_logical_date as lone
from vlm_demo.samples import generate_samples

lone_dag, folders = lone.lone_dag, lone.folders
rows, run_nightly = lone.rows, lone.run_nightly

NIGHT = date(2026, 11, 19)
RUN_AFTER = "2026-11-26T09:00:00+00:00"
#: What the review param switches on, in the order the run reaches it.
BRANCH = ("flagged_invoices", "review.to_review", "review.corrections", "apply_review", "feedback")


@pytest.mark.timeout(300)
def test_without_the_review_param_the_night_ends_after_the_report(
    lone_dag: tuple[Path, Path], dev: Any, folders: tuple[Path, Path]
) -> None:
    inbox, output = folders
    invoices = generate_samples(inbox, count=2, seed=7, day=NIGHT, embed_every=1, bad=1)
    assert sum(bool(i.bad) for i in invoices) == 1

    result = run_nightly(lone_dag, dev, folders, RUN_AFTER, {"night": NIGHT.isoformat()})

    assert result.state == "success", result.tail()
    assert result.task("review_wanted")["state"] == "success"
    assert {task: result.task(task)["state"] for task in BRANCH} == dict.fromkeys(BRANCH, "skipped")
    got = rows(output, NIGHT.isoformat())
    flagged = [r for r in got if r.get("problems")]
    assert len(got) == 2 and len(flagged) == 1, got
    assert all("review" not in r for r in got), got
    assert dev.stats()["feedback"] == {"created": 0, "replayed": 0}
