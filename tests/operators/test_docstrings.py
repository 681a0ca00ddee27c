"""Every constructor parameter of every operator, sensor and trigger has a ``:param name:`` line.

Airflow's registry and IDEs read these lines; a parameter without one is undocumented where users
look first.
"""

from __future__ import annotations

import inspect

import pytest

from airflow_provider_vlm.decorators.vlm import _VlmDecoratedOperator
from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.generate import GenerateOperator
from airflow_provider_vlm.operators.schema import GenerateSchemaOperator
from airflow_provider_vlm.sensors.prediction import PredictionSensor
from airflow_provider_vlm.triggers.prediction import PredictionTrigger


def undocumented(cls: type) -> list[str]:
    doc = inspect.getdoc(cls) or ""
    names = [
        name
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return [name for name in names if f":param {name}:" not in doc]


@pytest.mark.parametrize(
    "cls",
    [
        GenerateOperator,
        GenerateBatchOperator,
        GenerateSchemaOperator,
        _VlmDecoratedOperator,
        PredictionSensor,
        PredictionTrigger,
    ],
)
def test_every_constructor_parameter_has_a_param_line(cls: type) -> None:
    assert undocumented(cls) == [], f"{cls.__name__} lacks :param lines"


def test_the_batch_operator_documents_its_own_parameters() -> None:
    assert "mean for ``GenerateOperator``" not in (inspect.getdoc(GenerateBatchOperator) or "")
