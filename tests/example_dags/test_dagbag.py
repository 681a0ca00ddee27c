"""Every example DAG loads without import errors or warnings."""

from __future__ import annotations

import warnings

from tests.conftest import EXAMPLES


def test_example_dags_load_cleanly() -> None:
    from airflow.dag_processing.dagbag import DagBag

    folder = EXAMPLES
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}
    for dag_id in (
        "vlm_nightly_invoices",
        "vlm_chained_extraction",
        "vlm_submit_then_sense",
        "vlm_mapped_documents",
        "vlm_taskflow_invoices",
    ):
        assert dag_id in bag.dag_ids, dag_id
        assert bag.dags[dag_id].doc_md, f"{dag_id} has no docstring"
    ours = [
        w for w in caught if "airflow_provider_vlm" in str(w.filename) or str(EXAMPLES) in str(w.filename)
    ]
    assert ours == [], [str(w.message) for w in ours]
    nightly = bag.dags["vlm_nightly_invoices"]
    assert nightly.catchup is False
    assert nightly.timetable.summary == "0 2 * * *"
    assert bag.dags["vlm_mapped_documents"].get_task("extract").pool == "vlm_api"
    extract = bag.dags["vlm_taskflow_invoices"].get_task("extract")
    assert extract.operator_class.__name__ == "_VlmDecoratedOperator"
    assert extract.partial_kwargs["deferrable"] is True
