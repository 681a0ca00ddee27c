"""A real Airflow api-server (the process the web UI talks to) on 127.0.0.1 and a free port.

Only the api-server runs: the connection form, its field metadata and the test button need
nothing else. ``[core] test_connection`` is enabled as the docs tell users to do, and the simple
auth manager lets every request in as admin (no login round trip).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster import LocalAirflow


class ApiServer:
    def __init__(self, airflow: LocalAirflow) -> None:
        self.airflow = airflow
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{airflow.port}", timeout=60.0)

    def healthy(self) -> bool:
        try:
            return self.http.get("/api/v2/monitor/health").status_code == 200
        except httpx.TransportError:
            return False


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("airflow-api")
    dags = home / "dags"
    dags.mkdir()
    airflow = LocalAirflow(
        home,
        Path(dags),
        extra_env={
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__WORKERS": "1",
        },
    )
    airflow.cli("db", "migrate")
    airflow.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(airflow.port))
    server = ApiServer(airflow)
    try:
        airflow.wait_for("the api-server", server.healthy, timeout=180)
        yield server
    finally:
        server.http.close()
        airflow.stop_all()
