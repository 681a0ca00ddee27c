"""The chaos script: on a fixed seed, kill and restart parts of the deployment during the waits.

Each fault waits for the moment it is meant for (a triggerer that holds triggers, a worker that
runs a task, preferably the nightly batch while it submits), then strikes and records its kind
and time (seconds since the soak started). Pauses between faults are drawn from
``random.Random(seed)``, so a rerun with the same seed strikes in the same order with the same
pauses.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from soak.deploy import Deployment

KINDS = ("worker_kill", "triggerer_kill", "scheduler_restart", "devserver_restart", "outage")


@dataclass
class Fault:
    kind: str
    at: float
    detail: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {**asdict(self), "at": round(self.at, 1)}


class Chaos:
    def __init__(
        self,
        deployment: Deployment,
        *,
        seed: int,
        started: float,
        outage_s: float = 330.0,
        restart_killed: bool = True,
        min_triggers: int = 1,
        say: Callable[[str], None] = print,
    ) -> None:
        self.d = deployment
        self.rng = random.Random(seed)
        self.started = started
        self.outage_s = outage_s
        self.restart_killed = restart_killed
        self.min_triggers = min_triggers
        self.say = say
        self.faults: list[Fault] = []
        # Set when the runs have finished: a fault still waiting for its moment gives up.
        self.stop = threading.Event()

    def run(self, plan: list[str], pause: tuple[float, float] = (5.0, 20.0)) -> list[Fault]:
        for n, kind in enumerate(plan):
            if n and self.stop.wait(self.rng.uniform(*pause)):
                break
            fault = getattr(self, kind)()
            self.faults.append(fault)
            self.say(f"  chaos: {fault.kind} at {fault.at:.0f}s {fault.detail}")
        return self.faults

    def _now(self) -> float:
        return time.monotonic() - self.started

    # --- the faults ----------------------------------------------------------------------------

    def triggerer_kill(self) -> Fault:
        """SIGKILL the triggerer holding the most triggers; time how long until the other has them."""
        a = self.d.airflow

        def busiest() -> tuple[int, int] | None:
            rows = a.query(
                "select triggerer_id, count(*) from trigger where triggerer_id is not null"
                " group by triggerer_id order by count(*) desc"
            )
            if sum(int(n) for _, n in rows) < self.min_triggers:
                return None
            return (int(rows[0][0]), int(rows[0][1])) if rows else None

        job_id, held = self.wait_for("a triggerer to hold triggers", busiest, 900, 0.5)
        # Each process reports its own name as hostname (soak.hostname).
        name = str(a.query("select hostname from job where id=?", job_id)[0][0])
        if name not in a.procs:
            raise LookupError(f"triggerer job {job_id} runs on {name!r}, none of {sorted(a.procs)}")
        at = self._now()
        a.kill(name, signal.SIGKILL)
        moved = self.wait_for(
            "the surviving triggerer to take the triggers over",
            lambda: not a.query("select 1 from trigger where triggerer_id=?", job_id),
            300,
            0.5,
        )
        takeover = round(self._now() - at, 1) if moved else None
        if self.restart_killed:
            self.d.start_triggerer(int(name.rsplit("-", 1)[1]))
        return Fault("triggerer_kill", at, {"process": name, "triggers_held": held, "takeover_s": takeover})

    def worker_kill(self) -> Fault:
        """SIGKILL a Celery worker running a task: the nightly batch while it submits, if caught."""
        a = self.d.airflow

        def target() -> tuple[str, str] | None:
            rows = a.query(
                "select dag_id, task_id, pid, hostname from task_instance where state='running'"
                " order by (task_id='extract' and dag_id='vlm_nightly_invoices') desc"
            )
            submitting = self._created() > 0
            for dag_id, task_id, pid, host in rows:
                owner = host if str(host).startswith("worker-") and host in a.procs else ""
                if not owner and pid:
                    owner = self._owner(int(pid), "worker-", strict=False)
                nightly = dag_id == "vlm_nightly_invoices" and task_id == "extract"
                if owner and (submitting or not nightly):
                    return owner, f"{dag_id}.{task_id}"
            return None

        name, task = self.wait_for("a task running on a Celery worker", target, 900, 0.2)
        created = self._created()
        at = self._now()
        a.kill(name, signal.SIGKILL)
        if self.restart_killed:
            self.d.start_worker(int(name.rsplit("-", 1)[1]))
        return Fault("worker_kill", at, {"process": name, "task": task, "predictions_created_then": created})

    def scheduler_restart(self) -> Fault:
        at = self._now()
        self.d.restart("scheduler", "scheduler", "--skip-serve-logs")
        return Fault("scheduler_restart", at)

    def devserver_restart(self) -> Fault:
        at = self._now()
        self.d.restart_devserver()
        return Fault("devserver_restart", at)

    def outage(self) -> Fault:
        """Every API call answers 503 for ``outage_s`` seconds, during the waits; returns when it ends."""
        # During the waits: once the nightly batch has submitted everything and deferred.
        self.wait_for(
            "the nightly batch to wait in the triggerer",
            lambda: self.d.airflow.query(
                "select 1 from task_instance where dag_id='vlm_nightly_invoices' and task_id='extract'"
                " and state='deferred'"
            ),
            3600,
            1.0,
        )
        at = self._now()
        self.d.set_faults(rules=[{"path": "*", "status": 503, "seconds": self.outage_s}])
        self.stop.wait(self.outage_s)
        return Fault("outage", at, {"seconds": self.outage_s})

    # --- helpers -------------------------------------------------------------------------------

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        """Poll ``check`` until it returns something truthy; give up when the runs have finished."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.stop.is_set():
            try:
                value = check()
            except Exception:
                value = None
            if value:
                return value
            self.stop.wait(interval)
        raise TimeoutError(f"gave up waiting for {what}")

    def _created(self) -> int:
        try:
            return int(self.d.dev_stats()["predictions_created"])
        except Exception:
            return 0

    def _owner(self, pid: int, prefix: str, strict: bool = True) -> str:
        """Which of our processes ``pid`` is, or descends from."""
        ours = {p.pid: name for name, p in self.d.airflow.procs.items() if name.startswith(prefix)}
        try:
            chain = [pid, *(p.pid for p in psutil.Process(pid).parents())]
        except psutil.NoSuchProcess:
            chain = [pid]
        for candidate in chain:
            if candidate in ours:
                return ours[candidate]
        if strict:
            raise LookupError(f"pid {pid} is none of {sorted(ours.values())}")
        return ""
