"""Demo material for the example DAGs: generated sample invoices and result validation.

Nothing here imports Airflow, so the same code runs in unit tests, in the example DAGs and
from the command line (``python -m vlm_demo.samples OUT_DIR``).
"""
