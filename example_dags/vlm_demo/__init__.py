"""Demo material for the example DAGs: generated sample invoices and the `make demo` command.

Nothing here imports Airflow, so the same code runs in unit tests, in the example DAGs and
from the command line (``python -m vlm_demo.samples OUT_DIR``).
"""
