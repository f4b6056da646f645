"""``ExportConfig``: the settings of ``leancot export``, one CLI flag per field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leancot.io import InputPath

Format = Literal["messages", "prompt-completion", "sharegpt", "alpaca", "parquet", "hf-dataset"]
FORMATS: tuple[str, ...] = ("messages", "prompt-completion", "sharegpt", "alpaca", "parquet", "hf-dataset")
#: The default output of each format, after "<DIR name>" (hf-dataset: a directory).
DEFAULT_NAMES: dict[str, str] = {"parquet": ".parquet", "hf-dataset": "-dataset"} | {
    f: f"-{f}.jsonl" for f in ("messages", "prompt-completion", "sharegpt", "alpaca")
}
#: The formats LLaMA-Factory reads through an entry in ``dataset_info.json``.
LLAMAFACTORY_FORMATS = ("sharegpt", "alpaca")
NO_TAGS = ("", "none")


class ExportConfig(BaseModel):
    """Settings of ``leancot export``."""

    model_config = ConfigDict(extra="forbid")

    dir: InputPath = Field(description="A finished prune, generate or eval output directory (its manifest.json says which).")
    format: Format = Field(
        description="messages (OpenAI/TRL chat JSONL), prompt-completion (TRL), sharegpt or alpaca (JSONL + LLaMA-Factory's dataset_info.json), parquet (one file), hf-dataset (a datasets.load_from_disk directory)."
    )
    out: Path | None = Field(
        None,
        description="Where to write (default: export/ beside DIR: <DIR name>-<format>.jsonl, <DIR name>.parquet, <DIR name>-dataset/). LLaMA-Factory's dataset_info.json goes beside it.",
    )
    system_prompt: str | None = Field(None, description="A system turn before the question (default: none).")
    think_tags: str = Field(
        "<think>,</think>",
        description="OPEN,CLOSE around the reasoning in the assistant turn; 'none' writes the reasoning, a blank line and the answer, unwrapped.",
    )
    answer_style: Literal["boxed", "as-is"] = Field(
        "boxed",
        description="The answer after the reasoning: boxed ('The answer is \\boxed{X}', as leancot trains) or as-is (the record's own text after </think>; a pruned record's bare answer).",
    )
    only_verified: bool = Field(
        True, description="Only verified records (prune: verified; generate, eval: graded correct); the others are counted as skipped."
    )
    dataset_name: str | None = Field(
        None, description="The name of the LLaMA-Factory dataset_info.json entry (sharegpt, alpaca; default: the output file's stem)."
    )

    @field_validator("think_tags")
    @classmethod
    def _two_tags(cls, v: str) -> str:
        if v.strip().lower() in NO_TAGS:
            return "none"
        open_tag, sep, close_tag = v.partition(",")
        if not sep or not open_tag.strip() or not close_tag.strip() or "," in close_tag:
            raise ValueError(f"give OPEN,CLOSE (e.g. '<think>,</think>') or 'none'; got {v!r}")
        return f"{open_tag.strip()},{close_tag.strip()}"

    @property
    def tags(self) -> tuple[str, str] | None:
        """(open, close) around the reasoning, or None for no wrapper."""
        if self.think_tags == "none":
            return None
        open_tag, _, close_tag = self.think_tags.partition(",")
        return open_tag, close_tag

    def out_path(self) -> Path:
        """``out``, or the default: ``<DIR's parent>/export/<DIR name>-<format><suffix>``."""
        if self.out is not None:
            return self.out
        source = self.dir if self.dir.name else self.dir.resolve()  # "." has no name
        return source.parent / "export" / f"{source.name}{DEFAULT_NAMES[self.format]}"
