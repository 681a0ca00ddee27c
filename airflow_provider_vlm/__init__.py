"""Apache Airflow provider for the VLM Run prediction API."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("airflow-provider-vlm")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

INTEGRATION = "VLM Run"
#: The provider's docs site (``site_url`` in ``mkdocs.yml``, ``Documentation`` in ``[project.urls]``).
DOCUMENTATION_URL = "https://airflow-provider-vlm.readthedocs.io/en/stable/"
#: The form's Port: ``0`` (or the Base URL's own port) is what the Test button needs.
PORT_LABEL = "Port (0 = the Base URL's port)"
PORT_PLACEHOLDER = "enter 0: Airflow's Test button needs a value here"


def get_provider_info() -> dict[str, Any]:
    """What Airflow's ProvidersManager reads (entry point ``apache_airflow_provider``).

    Every ``conn-fields`` schema declares its default: the form starts from it (so "Verify TLS"
    shows on, as the hook behaves) and a new connection stores it instead of ``null``. The values
    are the client's defaults, written out (a test holds them equal) so that every Airflow process,
    which calls this at start, does not import the client.
    """
    return {
        "package-name": "airflow-provider-vlm",
        "name": "VLM Run",
        "description": "Run VLM Run predictions (images, documents, audio, video to structured JSON) in DAGs.",
        # Airflow replaces this with the distribution's ``Documentation`` project URL (same value).
        "documentation-url": DOCUMENTATION_URL,
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
                    "airflow_provider_vlm.operators.schema",
                    "airflow_provider_vlm.operators.feedback",
                    "airflow_provider_vlm.operators.review",
                    "airflow_provider_vlm.operators.hitl_review",
                ],
            }
        ],
        "sensors": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_vlm.sensors.prediction"]}
        ],
        "triggers": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_vlm.triggers.prediction"]}
        ],
        "task-decorators": [{"name": "vlm", "class-name": "airflow_provider_vlm.decorators.vlm.vlm_task"}],
        "extra-links": ["airflow_provider_vlm.links.VlmPredictionLink"],
        "connection-types": [
            {
                "connection-type": "vlm",
                "hook-class-name": "airflow_provider_vlm.hooks.vlm.VlmHook",
                "hook-name": "VLM Run",
                # Port stays on the form: Airflow's Test button sends the stored port back and
                # refuses a connection saved without one (3.3), so the form asks for 0.
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login"],
                    "relabeling": {"host": "Base URL", "password": "API key", "port": PORT_LABEL},
                    "placeholders": {
                        "host": "https://api.vlm.run/v1 (empty means the public API)",
                        "password": "your VLM Run API key",
                        "port": PORT_PLACEHOLDER,
                        "extra": '{"timeout": 120, "max_retries": 5, "verify": true}',
                    },
                },
                "conn-fields": {
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "schema": {"type": ["number", "null"], "minimum": 1, "default": 120},
                        "description": "Per-request timeout; a non-batch generate waits this long for its answer.",
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "schema": {"type": ["integer", "null"], "minimum": 0, "default": 5},
                        "description": "Retries of transient HTTP failures inside one call (not task retries).",
                    },
                    "verify": {
                        "label": "Verify TLS",
                        "schema": {"type": ["boolean", "null"], "default": True},
                        "description": "Turn off only for a test server with a self-signed certificate.",
                    },
                    "dashboard_url": {
                        "label": "Dashboard URL",
                        "schema": {"type": ["string", "null"]},
                        "description": (
                            "Base of the prediction link shown on tasks. Empty: https://app.vlm.run for the "
                            "public API, no link for any other Base URL."
                        ),
                    },
                    # Privacy: the platform's own defaults, shown so that the choice is visible.
                    "allow_training": {
                        "label": "Allow training on your data (platform default: on)",
                        "schema": {"type": ["boolean", "null"], "default": True},
                        "description": (
                            "On: VLM Run may use the files and results of this connection's predictions "
                            "to train its models. Turn it off for documents with personal data (invoices "
                            "name people, addresses, bank accounts). A task's allow_training overrides it."
                        ),
                    },
                    "environment": {
                        "label": "Environment (platform default: dev)",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["dev", "staging", "prod"],
                            "default": "dev",
                        },
                        "description": (
                            "Sent with every prediction as metadata.environment (dev, staging or prod), "
                            "so the platform's usage views tell this deployment's requests apart."
                        ),
                    },
                },
            }
        ],
    }
