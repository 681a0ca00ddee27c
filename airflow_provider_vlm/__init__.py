"""Apache Airflow provider for the VLM Run prediction API."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("airflow-provider-vlm")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

INTEGRATION = "VLM Run"


def get_provider_info() -> dict[str, Any]:
    """What Airflow's ProvidersManager reads (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-vlm",
        "name": "VLM Run",
        "description": "Run VLM Run predictions (images, documents, audio, video to structured JSON) in DAGs.",
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.vlm.run/",
                "tags": ["ai"],
            }
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_vlm.hooks.vlm"]}],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_vlm.operators.generate",
                    "airflow_provider_vlm.operators.batch",
                ],
            }
        ],
        "sensors": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_vlm.sensors.prediction"]}
        ],
        "triggers": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_vlm.triggers.prediction"]}
        ],
        "extra-links": ["airflow_provider_vlm.links.VlmPredictionLink"],
        "connection-types": [
            {
                "connection-type": "vlm",
                "hook-class-name": "airflow_provider_vlm.hooks.vlm.VlmHook",
                "hook-name": "VLM Run",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "Base URL", "password": "API key"},
                    "placeholders": {
                        "host": "https://api.vlm.run/v1 (empty means the public API)",
                        "password": "your VLM Run API key",
                        "extra": '{"timeout": 120, "max_retries": 5, "verify": true}',
                    },
                },
                "conn-fields": {
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "schema": {"type": ["number", "null"], "minimum": 1},
                        "description": "Per-request timeout; a non-batch generate waits this long for its answer.",
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "schema": {"type": ["integer", "null"], "minimum": 0},
                        "description": "Retries of transient HTTP failures inside one call (not task retries).",
                    },
                    "verify": {
                        "label": "Verify TLS",
                        "schema": {"type": ["boolean", "null"]},
                        "description": "Turn off only for a test server with a self-signed certificate.",
                    },
                    "dashboard_url": {
                        "label": "Dashboard URL",
                        "schema": {"type": ["string", "null"]},
                        "description": "Base of the prediction link shown on tasks, e.g. https://app.vlm.run",
                    },
                },
            }
        ],
    }
