"""The version suite's driver: the built wheel beside each Airflow line's latest patch.

Run from the project's main virtual environment (``make versions``, ``LINES="3.0 3.2"`` for some
lines, ``--jobs N`` or ``VERSIONS_JOBS`` for how many at once). It builds the wheel and sdist once
and checks them with ``twine``; then, for each line, it makes a virtual environment inside the
clone (``.venv-af30`` ...) with ``uv``, installs that line's Airflow the way a user would, resolved
as of the patch's release (``--exclude-newer``: today's newest dependencies break older lines),
the provider from the built wheel and pytest, and runs ``tests/versions`` there. The dev server
and the sample invoices come from the main environment, so a line's environment holds only
Airflow, the provider's runtime dependencies and pytest. Every cache stays inside the clone
(``.uv-cache``).

Lines run two at a time by default: a line's install is mostly download and disk, its tests
partly wait on the dev server, so two lines keep a two-core machine busier than one. Each line
has a dev server of its own (the suite sets faults and reads ``/_dev/stats``, which are
server-wide) and its output goes to a log printed whole when the line ends.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from airflow_provider_vlm.devserver import process

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "versions"
DIST = ROOT / "dist"
UV_CACHE = ROOT / ".uv-cache"
API_KEY = "versions-key"


@dataclass(frozen=True)
class Line:
    """One Airflow line: its latest patch and the moment its world is resolved at."""

    name: str
    airflow: str
    # A few days after the patch's upload to the registry: what a user installing it then got.
    exclude_newer: str

    @property
    def venv(self) -> Path:
        return ROOT / f".venv-af{self.name.replace('.', '')}"


LINES = {
    line.name: line
    for line in (
        Line("3.0", "3.0.6", "2025-09-15T00:00:00Z"),  # 3.0.6 uploaded 2025-08-29
        Line("3.1", "3.1.8", "2026-03-15T00:00:00Z"),  # 3.1.8 uploaded 2026-03-11
        Line("3.2", "3.2.2", "2026-06-01T00:00:00Z"),  # 3.2.2 uploaded 2026-05-29
        Line("3.3", "3.3.2", "2026-09-20T00:00:00Z"),  # 3.3.2 uploaded 2026-09-17
    )
}
# Test-only packages of a line's environment (pytest-asyncio is not needed: no async test).
TEST_PACKAGES = ("pytest", "pytest-timeout")


def _env() -> dict[str, str]:
    """The environment of uv and of the line's pytest: caches in the clone, no outer venv leaking in."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env["UV_CACHE_DIR"] = str(UV_CACHE)
    env["UV_NATIVE_TLS"] = "1"  # the system's CA bundle, as pip uses it here
    env["UV_NO_CONFIG"] = "1"  # no user-level uv.toml: a line resolves the same on every machine
    env["UV_PYTHON_DOWNLOADS"] = "never"  # the interpreter of .venv, never a downloaded one
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(argv: Sequence[str | Path], **kwargs: object) -> None:
    print("$", " ".join(str(a) for a in argv), flush=True)
    subprocess.run([str(a) for a in argv], check=True, cwd=ROOT, env=_env(), **kwargs)  # type: ignore[call-overload]


def _measured(
    argv: Sequence[str | Path], log: IO[str], env: dict[str, str] | None = None, cwd: Path = ROOT
) -> tuple[int, float]:
    """Run ``argv`` with its output in ``log``; its exit code and CPU (its own and its children's).

    ``os.wait4`` gives one child's CPU where ``RUSAGE_CHILDREN`` would mix the lines running at once.
    """
    log.write("$ " + " ".join(str(a) for a in argv) + "\n")
    log.flush()
    proc = subprocess.Popen(
        [str(a) for a in argv], cwd=cwd, env=env or _env(), stdout=log, stderr=subprocess.STDOUT
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit("uv is missing from this environment: install the project's dev extra")
    return found


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children: wall time on a shared machine lies."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def _timed(label: str, timings: dict[str, tuple[float, float]]) -> Iterator[None]:
    start, cpu = time.monotonic(), _cpu_seconds()
    try:
        yield
    finally:
        timings[label] = (time.monotonic() - start, _cpu_seconds() - cpu)
        print(f"--- {label}: {timings[label][0]:.0f} s ({timings[label][1]:.0f} CPU-s)", flush=True)


def build() -> tuple[Path, Path]:
    """``python -m build`` (sdist, then the wheel from it) and ``twine check`` on both."""
    shutil.rmtree(DIST, ignore_errors=True)
    _run([sys.executable, "-m", "build", "--quiet", "--installer", "uv", "--outdir", DIST, ROOT])
    (wheel,) = DIST.glob("*.whl")
    (sdist,) = DIST.glob("*.tar.gz")
    _run([sys.executable, "-m", "twine", "check", "--strict", wheel, sdist])
    return wheel, sdist


def install(line: Line, wheel: Path, log: IO[str]) -> float:
    """Airflow ``==patch``, the built wheel and pytest, resolved together as of the release; CPU-s."""
    python = line.venv / "bin" / "python"
    cpu = 0.0
    if not python.exists():
        code, cpu = _measured([_uv(), "venv", "--quiet", "--python", sys.executable, line.venv], log)
        if code:
            raise subprocess.CalledProcessError(code, "uv venv")
    code, used = _measured(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            python,
            "--exclude-newer",
            line.exclude_newer,
            "--reinstall-package",
            "airflow-provider-vlm",
            f"apache-airflow=={line.airflow}",
            wheel,
            *TEST_PACKAGES,
        ],
        log,
    )
    if code:
        raise subprocess.CalledProcessError(code, "uv pip install")
    return cpu + used


def run_suite(
    line: Line, wheel: Path, sdist: Path, base_url: str, invoices: list[str], log: IO[str]
) -> tuple[int, float]:
    """``pytest tests/versions`` in the line's environment (its script, so the clone is not on sys.path)."""
    env = _env()
    env.update(
        {
            "VLM_VERSIONS_AIRFLOW": line.airflow,
            "VLM_VERSIONS_BASE_URL": base_url,
            "VLM_VERSIONS_API_KEY": API_KEY,
            "VLM_VERSIONS_INVOICES": json.dumps(invoices),
            "VLM_VERSIONS_WHEEL": str(wheel),
            "VLM_VERSIONS_SDIST": str(sdist),
        }
    )
    argv = [str(line.venv / "bin" / "pytest"), "-c", str(SUITE / "pytest.ini"), "--rootdir", str(SUITE)]
    argv += ["-p", "no:cacheprovider", str(SUITE)]
    return _measured(argv, log, env=env, cwd=SUITE)


@dataclass
class Outcome:
    """One line's result: passed or not, its log, and (wall, CPU) per step."""

    line: Line
    passed: bool = False
    log: str = ""
    timings: dict[str, tuple[float, float]] = field(default_factory=dict)


def run_line(line: Line, wheel: Path, sdist: Path, invoices: list[str], scratch: Path) -> Outcome:
    """Install one line and run the suite there, against a dev server of its own."""
    outcome = Outcome(line)
    log_path = scratch / f"{line.name}.log"
    with log_path.open("w") as log:
        try:
            start = time.monotonic()
            cpu = install(line, wheel, log)
            outcome.timings[f"{line.airflow} install"] = (time.monotonic() - start, cpu)
            with process.running("--processing-time", "1", "--seed", "7", "--api-key", API_KEY) as server:
                start = time.monotonic()
                code, cpu = run_suite(line, wheel, sdist, server.base_url, invoices, log)
                cpu += server.cpu_seconds()
            outcome.timings[f"{line.airflow} tests"] = (time.monotonic() - start, cpu)
            outcome.passed = code == 0
        except Exception as error:  # reported with the line's log; the other lines go on
            log.write(f"\n{type(error).__name__}: {error}\n")
    outcome.log = log_path.read_text()
    return outcome


def sample_invoices(folder: Path) -> list[str]:
    """Three invoices from the demo's generator (two with embedded Factur-X XML), no broken one."""
    sys.path.insert(0, str(ROOT / "example_dags"))
    from vlm_demo.samples import generate_samples

    return [str(s.path) for s in generate_samples(folder, count=3, bad=0)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lines", nargs="*", default=list(LINES), help=f"of {', '.join(LINES)}")
    parser.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("VERSIONS_JOBS") or 2),
        help="lines at once (default 2, or VERSIONS_JOBS)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.lines if name not in LINES]
    if unknown:
        parser.error(f"unknown line(s) {unknown}: choose from {list(LINES)}")
    if args.jobs < 1:
        parser.error("--jobs must be 1 or more")

    timings: dict[str, tuple[float, float]] = {}
    failed: list[str] = []
    start, cpu = time.monotonic(), _cpu_seconds()
    with _timed("build + twine check", timings):
        wheel, sdist = build()
    with tempfile.TemporaryDirectory(prefix="vlm-versions-") as scratch:
        invoices = sample_invoices(Path(scratch))
        lines = [LINES[name] for name in args.lines]
        print(f"running {len(lines)} line(s), {args.jobs} at a time", flush=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_line, line, wheel, sdist, invoices, Path(scratch)) for line in lines]
            outcomes = {}
            for future in concurrent.futures.as_completed(futures):
                outcome = future.result()
                outcomes[outcome.line.name] = outcome
                verdict = "passed" if outcome.passed else "FAILED"
                print(f"\n===== Airflow {outcome.line.airflow}: {verdict} =====\n{outcome.log}", flush=True)
        for line in lines:  # the table in the lines' order
            timings.update(outcomes[line.name].timings)
            if not outcomes[line.name].passed:
                failed.append(line.airflow)
    timings["total"] = (time.monotonic() - start, _cpu_seconds() - cpu)
    print(f"\nversion suite timings ({args.jobs} line(s) at a time; wall, CPU of every process):")
    for label, (wall, cpu_used) in timings.items():
        print(f"  {label:<24} {wall:6.0f} s {cpu_used:7.0f} CPU-s")
    if failed:
        print(f"version suite failed on Airflow {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"version suite passed on Airflow {', '.join(LINES[n].airflow for n in args.lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
