"""Transport to OpenAI-compatible servers, shared by generate, prune (the DRP teacher) and eval.

- ``client``: async chat client (request cache, bounded concurrency and retries, usage, cost budget);
- ``cache``: the SQLite request cache; ``pricing``: the price table;
- ``batch``: the OpenAI Batch API, in phases of dependent requests.

This package imports no stage (a stage hands it its work as a callback), and importing it
imports nothing heavy: ``openai`` is imported on first use.
"""
