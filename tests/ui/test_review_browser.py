"""The invoice review in a real browser: a night waits at review, a person corrects it in the UI.

The nightly example runs on a real Airflow (``tests/review_night.py``) with the ``review`` param
on until both flagged invoices wait for a person. Headless Chromium opens the review of the
invoice whose total is wrong (its Required Actions page, as the task's link does), finds the
file, the reason and the extracted total pre-filled, types the right total and a note and
presses Save. The review task then returns a correction with that one field. ``VLM_DOCS_SCREENSHOTS=1``
writes the screenshots that ``docs/invoice-night.md`` shows into ``docs/img/``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import LocalAirflow
from tests.review_night import (
    DAG_ID,
    REVIEW_TASK,
    RestApi,
    example_airflow,
    make_night,
    reviews_by_file,
    start_night,
)
from tests.ui.test_connection_form_browser import Page, _keep_for_docs, browser  # noqa: F401

SECRET = "sk-browser-review-8e20"
NOTE = "total is subtotal + VAT"

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def airflow(tmp_path: Path) -> Iterator[LocalAirflow]:
    # Every request is an admin's: the UI opens signed in (tests/ui/conftest.py does the same).
    extra = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True", "AIRFLOW__API__WORKERS": "1"}
    with example_airflow(tmp_path, extra) as instance:
        yield instance


def test_a_reviewer_corrects_the_total_in_the_ui(
    browser: Any,  # noqa: F811 - the connection-form test's fixture
    airflow: LocalAirflow,
    start_devserver: Any,
    tmp_path: Path,
) -> None:
    # The review shows where the file is: a short folder reads better in the docs' screenshots.
    night = make_night(Path(tempfile.mkdtemp(prefix="invoices-")))
    with start_devserver("--port", "0", "--processing-time", "1", "--api-key", SECRET) as server:
        api = RestApi(airflow.port)
        run_id = start_night(airflow, api, night, server.base_url, SECRET)
        review = reviews_by_file(api, run_id, night)[night.bad_total.path.name]
        map_index = review["task_instance"]["map_index"]

        page = Page(browser, api.root, tmp_path)
        page.open(f"/dags/{DAG_ID}/runs/{run_id}/tasks/{REVIEW_TASK}/mapped/{map_index}/required_actions")
        page.wait.until(
            page.ec.visibility_of_element_located(
                (page.by.XPATH, f"//*[contains(., 'Review invoice {night.bad_total.path.name}')]")
            )
        )
        total = page.field("element_total_amount")
        assert float(total.get_attribute("value")) == float(night.bad_total.total_amount)
        assert "[rule]" in browser.page_source
        # The picture shows the editable fields, pre-filled, with the reasons above them.
        browser.set_window_size(1400, 1500)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", total)
        form = page.screenshot("review_form.png")

        page.type_into("element_total_amount", str(night.right_total), replace=True)
        page.type_into("element_notes", NOTE)
        page.click("//button[normalize-space(.) = 'Save']")
        answered = airflow.wait_for(
            "the review task to finish with the reviewer's answer",
            lambda: airflow.query(
                "select state from task_instance where dag_id=? and run_id=? and task_id=? and map_index=? "
                "and state in ('success', 'failed')",
                DAG_ID,
                run_id,
                REVIEW_TASK,
                map_index,
            ),
            300,
        )
        assert answered == [("success",)], airflow.logs()
        response = api.http.get(
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{REVIEW_TASK}/xcomEntries/return_value",
            params={"map_index": map_index, "deserialize": True},
        )
        response.raise_for_status()
        correction = response.json()["value"]
        assert correction["decision"] == "corrected", correction
        assert correction["fields"] == {"total_amount": night.right_total}, correction
        assert correction["notes"] == NOTE
        page.open(f"/dags/{DAG_ID}/runs/{run_id}/tasks/{REVIEW_TASK}/mapped/{map_index}/required_actions")
        # An answered review says when and by whom ("Response received at ...").
        received = page.wait.until(
            page.ec.visibility_of_element_located(
                (page.by.XPATH, "//*[contains(text(), 'Response received at')]")
            )
        )
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", received)
        done = page.screenshot("review_done.png")
        _keep_for_docs(form, done)
    shutil.rmtree(night.inbox.parent, ignore_errors=True)
