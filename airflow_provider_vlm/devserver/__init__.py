"""A local stand-in for the VLM Run API: same wire contract, real invoice extraction, faults on demand.

It is a separate program (``python -m airflow_provider_vlm.devserver``): it imports nothing from
Airflow or from the rest of this package, so it can serve tests, demos and other clients alike.
"""
