"""The runtime layer: the one place that wires a shape together (web.py: a web process,
with or without a model; worker.py and tasks.py: a Celery worker)."""
