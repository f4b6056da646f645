"""The trace formats of the field, read into one shape: question, completion, reasoning, final.

Formats (named by :func:`detect_format` from the first readable row):

- ``flat``: one column per field (``question``/``problem``/``prompt``..., ``completion``/
  ``response``/``output``..., see ``leancot.io.FIELD_ALIASES``), and optionally a separate
  reasoning column (``reasoning_content``, as vLLM and DeepSeek's API return it);
- ``messages``: OpenAI chat, ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}]}``;
- ``sharegpt``: ``{"conversations": [{"from": "human"|"gpt", "value": ...}]}``;
- ``stratos``: Bespoke-Stratos-17k / OpenThoughts, ``system`` + ``conversations`` whose
  answer is ``<|begin_of_thought|> R <|end_of_thought|> <|begin_of_solution|> S <|end_of_solution|>``;
- ``alpaca``: ``instruction`` + ``input`` (joined into the question) and ``output``.

An eval record (``leancot eval``'s ``records.jsonl``) is a flat row whose fields are its own
(:data:`EVAL_FIELDS`: ``output`` the completion, ``gold`` the gold answer, one ``id`` per sample).

In a chat the last user turn is the question and the one assistant turn the completion;
a system turn is kept in ``meta["system"]``. Any field can instead be named by a path into
nested data: ``messages.-2.content`` (dots between keys, list indexes may be negative).
Where the reasoning ends is found by :func:`split_reasoning` (``<think>``, the Stratos
markers, a reasoning column, or a delimiter the user names).

How the prune stage calls it (one call per row; rejects unpack as ``(reason, detail)``)::

    from leancot.data import formats

    fmt = formats.detect_format(first_row)          # once, from the first readable row; report it
    spec = formats.resolve_fields(first_row, fmt, formats.FieldSpec(
        id=config.id_field, question=config.question_field, completion=config.completion_field,
        answer=config.answer_field, reasoning=config.reasoning_field))   # UsageError: a named field is absent
    for row in rows:                                # io.RawRow, already BOM- and CRLF-clean
        got = formats.extract(row.data, fmt, spec, delimiter=config.reasoning_delimiter)
        if isinstance(got, formats.Reject):
            out.reject(item_id, *got); continue
        n = formats.check_length(got.reasoning, config.max_reasoning_tokens, config.tokenizer)
        if isinstance(n, formats.Reject):           # ("too_long", "70,123 reasoning tokens > 65,536")
            out.reject(item_id, *n); continue
        # got.question, got.completion, got.reasoning, got.final, got.answer (use it: it knows the
        # markers), got.gold (raw: normalise it), got.id, got.meta; n = tokens_before
        # got.delimiter == "none": no delimiter, the whole text is reasoning -- count these rows

A field that is not text is a reject saying so, never text made from a Python object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from leancot import grading
from leancot.errors import UsageError
from leancot.io import FIELD_ALIASES

FORMATS = ("flat", "messages", "sharegpt", "stratos", "alpaca")
REASONING_ALIASES = ("reasoning_content", "reasoning")
DEFAULT_MAX_REASONING_TOKENS = 65536

THOUGHT = ("<|begin_of_thought|>", "<|end_of_thought|>")
SOLUTION = ("<|begin_of_solution|>", "<|end_of_solution|>")

# Roles of the chat dialects, as spelled in OpenAI, ShareGPT, Stratos and Gemini exports.
_ROLES = {"system": "system", "user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant",
          "model": "assistant", "chatgpt": "assistant", "bot": "assistant"}  # fmt: skip
_MISSING = object()

#: Where an eval record (``leancot eval``'s records.jsonl: ``leancot.schema.EvalRecord``) keeps a trace's fields:
#: ``output`` is the completion and ``gold`` the gold answer (its ``answer`` is the model's own).
EVAL_FIELDS = {"id": "id", "question": "question", "completion": "output", "answer": "gold"}
_EVAL_KEYS = frozenset({"benchmark", "problem_id", "sample", "output", "gold", "correct"})


class Reject(NamedTuple):
    """Why a row cannot be read: ``reason`` is a short code, ``detail`` says where."""

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class FieldSpec:
    """Where each field is: a column name or a dotted path; ``None`` = the format's own place."""

    id: str | None = None
    question: str | None = None
    completion: str | None = None
    answer: str | None = None
    reasoning: str | None = None  # a separate reasoning column (the completion is then the answer)


@dataclass(frozen=True)
class Split:
    """A completion cut into reasoning and final answer (both stripped).

    ``delimiter``: ``think`` | ``think_unclosed`` (cut off while thinking: no answer) |
    ``stratos`` | ``column`` (a separate reasoning field) | ``custom`` | ``none`` (no
    delimiter found: the whole text is the reasoning, the answer is looked for in all of it).
    """

    reasoning: str
    final: str
    delimiter: str

    @property
    def answer_region(self) -> str | None:
        """Where the final answer is looked for; None when the text was cut off while reasoning."""
        if self.delimiter == "think_unclosed":
            return None
        return self.reasoning if self.delimiter == "none" else self.final


@dataclass(frozen=True)
class Extracted:
    """One row in the shape the prune stage needs."""

    question: str
    completion: str  # the full model text (with a reasoning column: rebuilt as <think>R</think>F)
    reasoning: str
    final: str
    answer: str | None  # extracted from the answer region of the split, None when cut off
    gold: Any  # the gold answer as the row holds it (str, int or float), None when absent
    delimiter: str  # see Split
    id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- detection


def detect_format(first_row: dict[str, Any]) -> str:
    """The format of a file, from its first readable row (one of :data:`FORMATS`)."""
    if _looks_like_turns(first_row.get("messages")):
        return "messages"
    turns = first_row.get("conversations")
    if _looks_like_turns(turns):
        markers = THOUGHT[0] in json.dumps(turns, ensure_ascii=False)
        return "stratos" if isinstance(first_row.get("system"), str) or markers else "sharegpt"
    if "instruction" in first_row and "output" in first_row:
        return "alpaca"
    return "flat"


def _looks_like_turns(value: Any) -> bool:
    turns = _as_turns(value)
    return isinstance(turns, list) and bool(turns) and all(isinstance(t, dict) for t in turns)


def _as_turns(value: Any) -> Any:
    """A conversation, also when a CSV export stored it as JSON text."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def resolve_fields(first_row: dict[str, Any], fmt: str, fields: FieldSpec = FieldSpec()) -> FieldSpec:
    """``fields`` with every default the first row settles filled in; a named field it lacks is a usage error.

    Flat files get their columns from the aliases (a file without a question or a completion
    column is a usage error: no row of it could be read); chat formats keep None where the
    conversation is read, and every format looks up the id and gold answer columns.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown input format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt == "flat" and is_eval_record(first_row):
        fields = _eval_fields(first_row, fields)
    for name in ("id", "question", "completion", "answer", "reasoning"):
        path = getattr(fields, name)
        if path is not None and get_path(first_row, path) is _MISSING:
            raise UsageError(f"field '{path}' (--{name}-field) is not in the input; it has: {', '.join(first_row)}")
    found = {name: _alias(first_row, name) for name in ("id", "answer")}
    if fmt == "flat":
        found |= {name: _alias(first_row, name) for name in ("question", "completion", "reasoning")}
        for name in ("question", "completion"):
            if (getattr(fields, name) or found[name]) is None:
                raise UsageError(f"no {name} field in the input (it has: {', '.join(first_row)}); name it with --{name}-field")
    return replace(fields, **{k: v for k, v in found.items() if getattr(fields, k) is None})


def is_eval_record(row: dict[str, Any]) -> bool:
    """Whether ``row`` is an eval record (one graded sample of ``leancot eval``)."""
    return _EVAL_KEYS <= row.keys()


def _eval_fields(first_row: dict[str, Any], fields: FieldSpec) -> FieldSpec:
    """An eval record's own fields (:data:`EVAL_FIELDS`) where the user named none."""
    if "question" not in first_row and fields.question is None:
        raise UsageError("these eval records hold no question (written by an older leancot eval): run the eval again into a new --out")
    return replace(fields, **{k: v for k, v in EVAL_FIELDS.items() if getattr(fields, k) is None and v in first_row})


def _alias(row: dict[str, Any], name: str) -> str | None:
    aliases = REASONING_ALIASES if name == "reasoning" else FIELD_ALIASES[name]
    return next((a for a in aliases if a in row), None)


def get_path(data: Any, path: str) -> Any:
    """The value at ``path`` in nested dicts and lists (``messages.-2.content``), or a missing marker.

    A key that itself holds dots (``"meta.source"``) is found as a whole first.
    """
    if isinstance(data, dict) and path in data:
        return data[path]
    for part in path.split("."):
        data = _as_turns(data)
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and _is_index(part) and -len(data) <= int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def _is_index(part: str) -> bool:
    return part.lstrip("-").isdigit()


# --------------------------------------------------------------------------- extraction


def extract(row: dict[str, Any], fmt: str, fields: FieldSpec = FieldSpec(), *, delimiter: str | None = None) -> Extracted | Reject:
    """One row in the shape of :class:`Extracted`, or the :class:`Reject` that says why not.

    ``fields`` should come from :func:`resolve_fields` (else flat columns are looked up in
    every row); ``delimiter`` is a user-given end of reasoning (see :func:`split_reasoning`).
    """
    got = _question_and_completion(row, fmt, fields)
    if isinstance(got, Reject):
        return got
    question, completion, reasoning_column, meta = got
    gold = _gold(row, fields.answer or _alias(row, "answer"))
    if isinstance(gold, Reject):
        return gold
    split = split_reasoning(completion, delimiter=delimiter, reasoning_column=reasoning_column)
    if not split.reasoning:
        return Reject("empty_trace", f"no reasoning before the end of reasoning ({split.delimiter})")
    if split.delimiter == "column":
        completion = f"{grading.THINK_OPEN}\n{split.reasoning}\n{grading.THINK_CLOSE}\n\n{split.final}"
    region = split.answer_region
    return Extracted(
        question=question, completion=completion, reasoning=split.reasoning, final=split.final,
        answer=grading.extract_answer(region, must_conclude=split.delimiter == "none") if region is not None else None, gold=gold,
        delimiter=split.delimiter, id=id_of(row, fields.id or _alias(row, "id")), meta=meta,
    )  # fmt: skip


def _question_and_completion(row: dict[str, Any], fmt: str, fields: FieldSpec) -> tuple[str, str, str | None, dict] | Reject:
    """``(question, completion, reasoning column or None, meta)``: the format's reading, then the named paths.

    The format's own reader runs unless both the question and the completion are named;
    a named path then replaces what it read. Flat rows look their columns up by alias.
    """
    base = _read_format(row, fmt, fields)
    if isinstance(base, Reject):
        return base
    question, completion, reasoning, meta = base
    paths = {name: getattr(fields, name) or (_alias(row, name) if fmt == "flat" else None)
             for name in ("question", "completion", "reasoning")}  # fmt: skip
    if paths["question"]:
        question = _text_at(row, paths["question"], "question")
    if paths["completion"]:
        completion = _text_at(row, paths["completion"], "completion")
    if paths["reasoning"]:
        reasoning = _text_at(row, paths["reasoning"], "reasoning", required=False)
    for name, value in (("question", question), ("completion", completion), ("reasoning", reasoning)):
        if isinstance(value, Reject):
            return value
        if value is _MISSING:
            return Reject(f"missing_{name}", f"no {name} column (the row has: {', '.join(row)})")
    return question, completion, reasoning, meta


def _read_format(row: dict[str, Any], fmt: str, fields: FieldSpec) -> tuple[Any, Any, str | None, dict] | Reject:
    if fmt == "flat" or (fields.question and fields.completion):
        return _MISSING, _MISSING, None, _system_meta(row)
    if fmt == "alpaca":
        got = _alpaca(row)
        return got if isinstance(got, Reject) else (*got, None, _system_meta(row))
    return read_chat(row, fmt)


def _text_at(row: dict[str, Any], path: str, name: str, *, required: bool = True) -> str | None | Reject:
    """The text at ``path``; a missing or empty required field, or one that is not text, is a reject."""
    value = get_path(row, path)
    if value is _MISSING or value is None or value == "":
        return Reject(f"missing_{name}", f"'{path}' is absent or empty") if required else None
    if isinstance(value, str) and not value.strip():  # there, but only whitespace
        return Reject("empty_trace" if name == "completion" else f"missing_{name}", f"'{path}' holds only whitespace") if required else None
    if not isinstance(value, str):
        return Reject("not_a_string", f"{name} field '{path}' holds {_kind(value)}, not text")
    return value


def _kind(value: Any) -> str:
    names = {list: "a list", dict: "an object", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _gold(row: dict[str, Any], path: str | None) -> Any:
    """The raw gold answer (text or a number), None when there is none."""
    value = get_path(row, path) if path else None
    if value is _MISSING or value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return Reject("not_a_string", f"answer field '{path}' holds {_kind(value)}, not text or a number")
    return value


def id_of(row: dict[str, Any], path: str | None) -> str | None:
    """The id at ``path``, as text (None when absent, empty or not a scalar)."""
    value = get_path(row, path) if path else None
    if value is _MISSING or value in (None, "") or isinstance(value, (list, dict)):
        return None
    return str(value)


def _system_meta(row: dict[str, Any]) -> dict[str, Any]:
    system = row.get("system")
    return {"system": system} if isinstance(system, str) and system.strip() else {}


def _alpaca(row: dict[str, Any]) -> tuple[str, str] | Reject:
    """Alpaca's question: the instruction, then its input when it has one; the output is the completion."""
    instruction = _text_at(row, "instruction", "question")
    extra = _text_at(row, "input", "input", required=False)
    output = _text_at(row, "output", "completion")
    for value in (instruction, extra, output):
        if isinstance(value, Reject):
            return value
    question = f"{instruction.strip()}\n\n{extra.strip()}" if extra else instruction
    return question, output


# --------------------------------------------------------------------------- chats


def read_chat(row: dict[str, Any], fmt: str) -> tuple[str, str, str | None, dict[str, Any]] | Reject:
    """``(question, completion, reasoning or None, meta)`` of a chat row, or why it is no single exchange.

    The question is the last user turn, the completion the one assistant turn after it;
    system turns (and a ``system`` column, as Stratos has) go to ``meta["system"]``, earlier
    user turns to ``meta["earlier_user_turns"]``. An assistant turn's own ``reasoning_content``
    (DeepSeek's API) is its reasoning.
    """
    key = "messages" if fmt == "messages" else "conversations"
    turns = _turns(row.get(key, _MISSING), key)
    if isinstance(turns, Reject):
        return turns
    meta = _system_meta(row)
    systems = [t.content for t in turns if t.role == "system" and t.content.strip()]
    if systems:
        meta["system"] = "\n\n".join(([meta["system"]] if meta else []) + systems)
    dialog = [t for t in turns if t.role != "system"]
    problem = _dialog_defect(dialog)
    if problem:
        return problem
    users = [t.content for t in dialog if t.role == "user"]
    if len(users) > 1:
        meta["earlier_user_turns"] = users[:-1]
    return users[-1], dialog[-1].content, dialog[-1].reasoning, meta


class _Turn(NamedTuple):
    role: str
    content: str
    reasoning: str | None = None


def _turns(value: Any, key: str) -> list[_Turn] | Reject:
    """The turns of a conversation (role/content or from/value), or why they cannot be read."""
    value = _as_turns(value)
    if value is _MISSING or value is None:
        return Reject("not_a_conversation", f"no '{key}' list")
    if not isinstance(value, list) or not value:
        return Reject("not_a_conversation", f"'{key}' holds {_kind(value) if value != [] else 'no turns'}, not a list of turns")
    turns = []
    for k, raw in enumerate(value):
        turn = _turn(raw, f"{key}.{k}")
        if isinstance(turn, Reject):
            return turn
        turns.append(turn)
    return turns


def _turn(raw: Any, where: str) -> _Turn | Reject:
    if not isinstance(raw, dict):
        return Reject("not_a_conversation", f"{where} is {_kind(raw)}, not a turn")
    speaker = raw.get("role", raw.get("from"))
    role = _ROLES.get(str(speaker).lower()) if isinstance(speaker, str) else None
    if role is None:
        return Reject("unsupported_role", f"{where} has role {speaker!r} (known: {', '.join(sorted(_ROLES))})")
    content = _content(raw.get("content", raw.get("value")))
    if not isinstance(content, str):
        return Reject("not_a_string", f"{where} content holds {_kind(content)}, not text")
    reasoning = raw.get("reasoning_content")
    if reasoning is not None and not isinstance(reasoning, str):
        return Reject("not_a_string", f"{where}.reasoning_content holds {_kind(reasoning)}, not text")
    return _Turn(role, content, reasoning or None)


def _content(value: Any) -> Any:
    """A turn's text; OpenAI's list of ``{"type": "text", "text": ...}`` parts is joined."""
    if isinstance(value, list) and value and all(isinstance(p, dict) and p.get("type") == "text" for p in value):
        texts = [p.get("text") for p in value]
        return "".join(texts) if all(isinstance(t, str) for t in texts) else value
    return value


def _dialog_defect(dialog: list[_Turn]) -> Reject | None:
    """Why the non-system turns are not one question and one answer, or None."""
    assistants = [k for k, t in enumerate(dialog) if t.role == "assistant"]
    if not dialog or dialog[0].role == "assistant":
        return Reject("starts_with_assistant", "the conversation opens with the assistant, before any question")
    if not assistants:
        return Reject("no_assistant_turn", f"{len(dialog)} user turn(s) and no answer")
    if len(assistants) > 1:
        return Reject("several_assistant_turns", f"{len(assistants)} assistant turns; one question and one answer are pruned")
    if assistants[0] != len(dialog) - 1:
        return Reject("user_turn_after_answer", "a user turn follows the assistant's answer")
    empty = next((t.role for t in dialog[-2:] if not t.content.strip()), None)
    if empty:
        return Reject("empty_turn", f"the {empty} turn is empty")
    return None


# --------------------------------------------------------------------------- reasoning


def split_reasoning(text: str, delimiter: str | None = None, reasoning_column: str | None = None) -> Split:
    """Cut a completion into reasoning and final answer, and say what marked the cut.

    In order: a separate reasoning column (then ``text`` is all answer, unless it holds its
    own ``</think>``, which is more precise); a user-given
    ``delimiter`` that ends the reasoning (its opening tag is dropped when it is ``</x>``
    and ``<x>`` precedes it); ``<think> ... </think>`` (:func:`leancot.grading.split_think`),
    an opened ``<think>`` with no close (cut off: no answer); the Stratos markers; else the
    whole text is reasoning (``delimiter == "none"``).
    """
    if reasoning_column and reasoning_column.strip() and grading.THINK_CLOSE not in text:
        return Split(reasoning_column.strip(), text.strip(), "column")
    if delimiter and delimiter in text:
        return _split_on(text, delimiter)
    if grading.THINK_CLOSE in text or grading.THINK_OPEN in text:
        reasoning, final, closed = grading.split_think(text)
        return Split(reasoning, final, "think" if closed else "think_unclosed")
    if THOUGHT[0] in text or THOUGHT[1] in text:
        return _split_stratos(text)
    return Split(text.strip(), "", "none")


def _split_on(text: str, delimiter: str) -> Split:
    end = text.rfind(delimiter)
    opening = "<" + delimiter[2:] if delimiter.startswith("</") else None
    start = text.rfind(opening, 0, end) if opening else -1
    body = start + len(opening) if start >= 0 else 0
    return Split(text[body:end].strip(), text[end + len(delimiter) :].strip(), "custom")


def _split_stratos(text: str) -> Split:
    """``<|begin_of_thought|> R <|end_of_thought|> <|begin_of_solution|> S <|end_of_solution|>``.

    A thought that never ends was cut off (no answer); the solution is what lies between
    its markers, or everything after the thought when they are missing.
    """
    start = text.find(THOUGHT[0])
    body = start + len(THOUGHT[0]) if start >= 0 else 0
    end = text.find(THOUGHT[1], body)
    if end < 0:
        return Split(text[body:].strip(), "", "think_unclosed")
    rest = text[end + len(THOUGHT[1]) :]
    sol = rest.find(SOLUTION[0])
    rest = rest[sol + len(SOLUTION[0]) :] if sol >= 0 else rest
    return Split(text[body:end].strip(), rest.split(SOLUTION[1], 1)[0].strip(), "stratos")


def check_length(reasoning: str, max_tokens: int | None = DEFAULT_MAX_REASONING_TOKENS, tokenizer: Any = None) -> int | Reject:
    """The reasoning's token count, or a ``too_long`` reject when it exceeds ``max_tokens``.

    Meant to run before any pruning work; the count is the trace's ``tokens_before``, so the
    stage need not count again. ``max_tokens=None`` never rejects.
    """
    from leancot.tokens import count_tokens

    n = count_tokens(reasoning, tokenizer)
    if max_tokens is not None and n > max_tokens:
        return Reject("too_long", f"{n:,} reasoning tokens > {max_tokens:,} (--max-reasoning-tokens)")
    return n
