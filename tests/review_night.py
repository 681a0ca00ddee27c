"""A night of the nightly example brought to its review on real Airflow: shared by the end-to-end
test (answers through the REST API) and the browser test (answers in the UI, takes the docs'
screenshots).

The example DAG is copied alone into a DAG folder, as a user deploys it; the night is four
generated e-invoices, two of them bad (the generator's first two defects: a total that is not
subtotal + tax, and no invoice number), so exactly two invoices wait for a person.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from tests.cluster import LocalAirflow
from vlm_demo.samples import SampleInvoice, generate_samples

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "vlm_nightly_invoices"
NIGHT = date(2026, 11, 20)
#: The review's mapped task (``review_invoices`` puts it in the ``review`` group).
REVIEW_TASK = "review.invoice"
#: A review waiting for a person: 3.3 parks it (``awaiting_input``), 3.1 and 3.2 defer it.
WAITING = ("awaiting_input", "deferred")


@dataclass(frozen=True)
class Night:
    inbox: Path
    output: Path
    invoices: list[SampleInvoice]

    @property
    def bad_total(self) -> SampleInvoice:
        return next(i for i in self.invoices if i.bad == "total_mismatch")

    @property
    def no_number(self) -> SampleInvoice:
        return next(i for i in self.invoices if i.bad == "missing_invoice_id")

    @property
    def right_total(self) -> float:
        return float(self.bad_total.subtotal + self.bad_total.tax_amount)

    def conf(self) -> dict[str, Any]:
        return {
            "source": f"file://{self.inbox}",
            "output": f"file://{self.output}",
            "night": NIGHT.isoformat(),
            "review": True,
        }

    def rows(self) -> dict[str, dict[str, Any]]:
        """``invoices.jsonl`` by file name."""
        lines = (self.output / NIGHT.isoformat() / "invoices.jsonl").read_text().splitlines()
        return {json.loads(line)["input"].rsplit("/", 1)[-1]: json.loads(line) for line in lines}


def make_night(folder: Path) -> Night:
    invoices = generate_samples(folder / "inbox", count=4, seed=2026, day=NIGHT, embed_every=1, bad=2)
    assert sorted(i.bad or "" for i in invoices) == ["", "", "missing_invoice_id", "total_mismatch"]
    return Night(folder / "inbox", folder / "output", invoices)


@contextlib.contextmanager
def example_airflow(folder: Path, extra_env: dict[str, str]) -> Iterator[LocalAirflow]:
    """An Airflow home whose DAG folder holds only the nightly example (not started yet)."""
    dags = folder / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "example_dags" / "vlm_nightly_invoices.py", dags)
    home = folder / "home"
    home.mkdir()
    # No scheduled runs: only the test's run (the DAG runs one night at a time).
    env = {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False", **extra_env}
    instance = LocalAirflow(home, dags, extra_env=env)
    try:
        yield instance
    finally:
        instance.stop_all()


class RestApi:
    """Airflow's REST API as the UI calls it, with a bearer token once :meth:`login` ran."""

    def __init__(self, port: int) -> None:
        self.root = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=f"{self.root}/api/v2", timeout=60.0)

    def up(self) -> bool:
        try:
            return self.http.get("/monitor/health").status_code == 200
        except httpx.TransportError:
            return False

    def login(self, username: str, password: str) -> None:
        """The simple auth manager's login route: the JWT the UI sends as a bearer token."""
        response = httpx.post(
            f"{self.root}/auth/token", json={"username": username, "password": password}, timeout=60.0
        )
        response.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def trigger(self, conf: dict[str, Any]) -> str:
        self.http.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
        response = self.http.post(f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def reviews(self, run_id: str) -> list[dict[str, Any]]:
        """What the UI's Required Actions list shows for the run."""
        response = self.http.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/hitlDetails")
        response.raise_for_status()
        return list(response.json()["hitl_details"])

    def answer(self, run_id: str, map_index: int, chosen: str, values: dict[str, Any]) -> dict[str, Any]:
        """What the UI's review form sends when the reviewer presses an option."""
        response = self.http.patch(
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{REVIEW_TASK}/{map_index}/hitlDetails",
            json={"chosen_options": [chosen], "params_input": values},
        )
        response.raise_for_status()
        return dict(response.json())


def start_night(
    airflow: LocalAirflow,
    api: RestApi,
    night: Night,
    base_url: str,
    api_key: str,
    login: tuple[str, str] | None = None,
) -> str:
    """Start Airflow, trigger the night with review on, wait until both reviews wait; the run id.

    ``login`` (user, password): take a JWT from the login route first, as the UI does.
    """
    airflow.start_all(base_url, api_key)
    airflow.wait_for("the api-server", api.up, 180)
    if login:
        api.login(*login)
    airflow.wait_for(
        "the DAG to be parsed", lambda: airflow.query("select 1 from dag where dag_id=?", DAG_ID), 120
    )
    run_id = api.trigger(night.conf())
    marks = ", ".join("?" * len(WAITING))
    waiting = airflow.wait_for(
        "both reviews to wait for a person",
        lambda: (
            rows
            if len(
                rows := airflow.query(
                    "select map_index, id from task_instance where dag_id=? and run_id=? and task_id=? "
                    f"and state in ({marks})",
                    DAG_ID,
                    run_id,
                    REVIEW_TASK,
                    *WAITING,
                )
            )
            == 2
            else None
        ),
        480,
    )
    assert sorted(m for m, _ in waiting) == [0, 1], waiting
    # An answer given before the scheduler has taken in the end of the worker that parked (or
    # deferred) the review meets Airflow's stale-event race: the scheduler takes that old event
    # for the end of the resumed try and fails it (docs/invoice-night.md). A person answers
    # minutes later; the test waits for the same moment instead of racing it.
    for _, ti_id in waiting:
        airflow.wait_for(
            f"the scheduler to see review {ti_id} wait", functools.partial(parked, airflow, str(ti_id)), 300
        )
    return run_id


def parked(airflow: LocalAirflow, ti_id: str) -> bool:
    """Whether the scheduler has processed the executor's event for the worker that parked ``ti_id``."""
    log = (airflow.home / "scheduler.log").read_text(errors="replace")
    dashed = str(uuid.UUID(ti_id))  # the DB keeps it without dashes, the log with
    return any(
        "TaskInstance Finished:" in line
        and f"ti_id={dashed}," in line
        and any(f"state={state}," in line for state in WAITING)
        for line in log.splitlines()
    )


def reviews_by_file(api: RestApi, run_id: str, night: Night) -> dict[str, dict[str, Any]]:
    """Each waiting review, by the file name its subject names."""
    reviews = api.reviews(run_id)
    assert len(reviews) == 2, reviews
    return {
        next(i.path.name for i in night.invoices if i.path.name in review["subject"]): review
        for review in reviews
    }


def run_state(airflow: LocalAirflow, run_id: str) -> str:
    """Wait for the run to end; its state."""
    rows = airflow.wait_for(
        "the run to end",
        lambda: airflow.query(
            "select state from dag_run where dag_id=? and run_id=? and state in ('success', 'failed')",
            DAG_ID,
            run_id,
        ),
        480,
    )
    return str(rows[0][0])
