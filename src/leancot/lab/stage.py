"""The ``lab`` stage: ``run(LabConfig)`` runs the whole miniature and writes ``lab_summary.json``.

What runs is the lab's driver (``leancot.lab.driver``): problems, the verbose teacher, then each
pruning run and each arm's training and evaluation as ordinary stage runs, through the step
runner ``leancot run`` uses (``leancot.pipeline.run_step``), each with its own lock, fingerprint,
manifest and resume. This module puts the lab itself under the same lifecycle
(``manifest.stage_run``): a lock on ``out``, a fingerprint of what the problems and students
depend on (``LabConfig.fingerprint_config``), and a manifest counting the training problems
(records: those every student trains on; rejects: those the pruners rejected). A re-run over the
same ``out`` skips every stage run that is done and writes the summary again.
"""

from __future__ import annotations

import time
from pathlib import Path

from leancot import manifest, stages
from leancot.io import write_json_atomic, write_text_atomic
from leancot.lab.config import LabConfig

#: What the lab writes at its top level besides its stage runs' directories (``--overwrite`` removes them).
OUTPUTS = ("lab_summary.json", "lab_table.md", "lab_arms.png")


def run(config: LabConfig) -> Path:
    """Run the whole lab into ``config.out``; returns the path of ``lab_summary.json``."""
    from leancot.lab import stats
    from leancot.lab.arms import resolve_arms
    from leancot.lab.driver import prepare_data, run_seeds, threads
    from leancot.lab.plot import arms_plot
    from leancot.lab.summary import summarise

    settings = config.resolved()
    arms, skipped = resolve_arms(config.arms, lsp=config.lsp)
    out = config.out
    with manifest.stage_run(out, "lab", config.fingerprint_config(), {}, seed=config.data_seed, overwrite=config.overwrite,
                            skip_complete=False, outputs=OUTPUTS, kept_work=_kept_work) as stage:  # fmt: skip
        started = time.perf_counter()
        with threads(config.threads):  # the trainer and the hf backend run in this process
            tick = time.perf_counter()
            test_file, data = prepare_data(config, settings, arms)
            phases = {"data_s": time.perf_counter() - tick}
            stage.total = data["train_problems"]
            results = run_seeds(config, settings, arms, data, test_file)
        summary = summarise(settings, arms, data, results, phases, time.perf_counter() - started, skipped=skipped)
        if arms_plot(summary, out / "lab_arms.png"):
            summary["plot"] = str(out / "lab_arms.png")
        write_json_atomic(out / "lab_summary.json", summary)
        write_text_atomic(out / "lab_table.md", stats.table(summary))
        counts = {"input": data["train_problems"], "records": data["trained_on"], "rejects": data["prune_rejects"]}
        stage.complete(counts, arms=[a.name for a in arms], seeds=config.seeds, targets=summary["targets"])
    return out / "lab_summary.json"


def _kept_work(out: Path) -> bool:
    """The teacher's traces or a stage run of the lab: work a re-run resumes, not to be discarded."""
    return (out / "teacher" / "traces.jsonl").exists()


STAGE = stages.Stage("lab", LabConfig, run, command="leancot.lab.command:register", in_recipes=False)
