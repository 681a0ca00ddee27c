"""The proving ground: the example DAGs on a distributed Airflow on one machine, under chaos.

``python -m soak`` (``make soak``) brings up PostgreSQL, Redis, a Celery-based Airflow with two
workers and two triggerers, the dev server with its state on disk and an S3 bucket on loopback;
runs the nightly invoice job, 50 mapped single-document tasks and a submit-then-sense DAG while
a seeded chaos script kills and restarts processes and takes the API down; then checks that no
input was lost and no prediction billed twice, and writes ``soak-report.json``.
"""
