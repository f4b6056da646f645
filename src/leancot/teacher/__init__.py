"""The teacher LLM stage: DRP pruning and trace generation through any OpenAI-compatible model.

- ``client``: async chat client (cache, bounded concurrency and retries, usage, cost budget);
- ``cache``: the SQLite request cache; ``pricing``: the price table;
- ``prompts/*.txt`` + ``prompting``: DRP's segmentation and compression prompts;
- ``parse``: tolerant JSON extraction, strict validation; ``drp``: one trace through the teacher;
- ``llm_prune``: ``leancot prune --method llm`` (``TeacherConfig``, ``run_llm_prune``);
- ``batch``: the same through the OpenAI Batch API; ``generate``: ``leancot generate``.

Importing this package imports nothing heavy; ``openai`` is imported on first use.
"""
