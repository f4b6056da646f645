"""The DRP teacher pruner: an LLM decomposes a trace into skill-labelled steps and prunes them.

- ``prompts/*.txt`` + ``prompts``: DRP's segmentation and compression conversations (leancot's JSON style,
  and ``paper_*``: the official prompts of ``YuxuanJiang1/DRP``, ``--prompt-style drp-paper``);
- ``parse``: tolerant JSON extraction, strict validation; ``drp``: one trace through the teacher;
- ``pruner``: ``TeacherConfig`` and ``TeacherPruner``, registered as ``--method llm``.

The transport (client, cache, pricing, Batch API) is ``leancot.llm``.
"""
