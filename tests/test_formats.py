"""Input formats of the field: one real-shaped row per format and per defect, read into one shape.

The rows copy the layout of the files users bring: R1-distill dumps, OpenAI ``messages``
(OpenR1-Math, chat exports), DeepSeek's API (``reasoning_content``), ShareGPT, Bespoke-Stratos-17k /
OpenThoughts, Alpaca. Add a row for every file that reads wrong.
"""

import json

import pytest

from leancot.data import formats
from leancot.data.formats import FieldSpec, Reject, detect_format, extract, resolve_fields, split_reasoning
from leancot.errors import UsageError
from leancot.io import iter_rows

R1 = "<think>\nOkay, so 2 + 3. That is 5.\n\nWait, let me check: 5 - 3 = 2. Yes.\n</think>\n\nSo the answer is $\\boxed{5}$."
STRATOS_SYSTEM = (
    "Your role as an assistant involves thoroughly exploring questions through a systematic long thinking process "
    "before providing the final precise and accurate solutions. Please structure your response into two main sections: "
    "Thought and Solution. <|begin_of_thought|> {thought with steps separated with '\\n\\n'} <|end_of_thought|> ..."
)
STRATOS_ANSWER = (
    "<|begin_of_thought|>\n\nOkay, let's see. Two plus three.\n\nSo 2 + 3 = 5.\n\n<|end_of_thought|>\n\n"
    "<|begin_of_solution|>\n\nAdding gives $2 + 3 = 5$.\n\n\\[\n\\boxed{5}\n\\]\n\n<|end_of_solution|>"
)
QUESTION = "What is $2 + 3$?"

# (what it is, row, format, question, reasoning, final, answer, delimiter, gold, meta)
READ_CASES = [
    (
        "R1 dump, flat columns",
        {"id": "math-7", "problem": QUESTION, "response": R1, "gt_answer": "5"},
        "flat",
        QUESTION,
        "Okay, so 2 + 3. That is 5.\n\nWait, let me check: 5 - 3 = 2. Yes.",
        "So the answer is $\\boxed{5}$.",
        "5",
        "think",
        "5",
        {},
    ),
    (
        "flat, Stratos markers in the completion",
        {"question": QUESTION, "completion": STRATOS_ANSWER},
        "flat",
        QUESTION,
        "Okay, let's see. Two plus three.\n\nSo 2 + 3 = 5.",
        "Adding gives $2 + 3 = 5$.\n\n\\[\n\\boxed{5}\n\\]",
        "5",
        "stratos",
        None,
        {},
    ),
    (
        "vLLM output, reasoning_content column",
        {"prompt": QUESTION, "reasoning_content": "2 + 3 = 5.", "output": "The answer is 5.", "answer": 5},
        "flat",
        QUESTION,
        "2 + 3 = 5.",
        "The answer is 5.",
        "5",
        "column",
        5,
        {},
    ),
    (
        "flat, no delimiter: all reasoning",
        {"question": QUESTION, "solution": "2 + 3 = 5. The answer is 5."},
        "flat",
        QUESTION,
        "2 + 3 = 5. The answer is 5.",
        "",
        "5",
        "none",
        None,
        {},
    ),
    (
        "OpenAI messages with a system turn",
        {
            "messages": [
                {"role": "system", "content": "Please reason step by step."},
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": R1},
            ],
            "answer": "5",
        },
        "messages",
        QUESTION,
        "Okay, so 2 + 3. That is 5.\n\nWait, let me check: 5 - 3 = 2. Yes.",
        "So the answer is $\\boxed{5}$.",
        "5",
        "think",
        "5",
        {"system": "Please reason step by step."},
    ),
    (
        "OpenAI messages, content as text parts",
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "$2 + 3$?"}]},
                {"role": "assistant", "content": "<think>2 + 3 = 5</think>\n\\boxed{5}"},
            ]
        },
        "messages",
        QUESTION,
        "2 + 3 = 5",
        "\\boxed{5}",
        "5",
        "think",
        None,
        {},
    ),
    (
        "DeepSeek API: reasoning_content on the assistant turn",
        {
            "messages": [
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "reasoning_content": "2 + 3 = 5.", "content": "**5**. The answer is 5."},
            ]
        },
        "messages",
        QUESTION,
        "2 + 3 = 5.",
        "**5**. The answer is 5.",
        "5",
        "column",
        None,
        {},
    ),
    (
        "OpenAI messages as JSON text (a CSV export)",
        {"messages": json.dumps([{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "<think>so 5</think> 5"}])},
        "messages",
        QUESTION,
        "so 5",
        "5",
        None,
        "think",
        None,
        {},
    ),
    (
        "ShareGPT human/gpt",
        {"id": 12, "conversations": [{"from": "human", "value": QUESTION}, {"from": "gpt", "value": R1}]},
        "sharegpt",
        QUESTION,
        "Okay, so 2 + 3. That is 5.\n\nWait, let me check: 5 - 3 = 2. Yes.",
        "So the answer is $\\boxed{5}$.",
        "5",
        "think",
        None,
        {},
    ),
    (
        "ShareGPT, two user turns: the last is the question",
        {
            "conversations": [
                {"from": "human", "value": "Hi."},
                {"from": "human", "value": QUESTION},
                {"from": "gpt", "value": "<think>5</think>The answer is 5."},
            ]
        },
        "sharegpt",
        QUESTION,
        "5",
        "The answer is 5.",
        "5",
        "think",
        None,
        {"earlier_user_turns": ["Hi."]},
    ),
    (
        "Bespoke-Stratos-17k",
        {
            "system": STRATOS_SYSTEM,
            "conversations": [
                {"from": "user", "value": "Return your final response within \\boxed{}. " + QUESTION},
                {"from": "assistant", "value": STRATOS_ANSWER},
            ],
        },
        "stratos",
        "Return your final response within \\boxed{}. " + QUESTION,
        "Okay, let's see. Two plus three.\n\nSo 2 + 3 = 5.",
        "Adding gives $2 + 3 = 5$.\n\n\\[\n\\boxed{5}\n\\]",
        "5",
        "stratos",
        None,
        {"system": STRATOS_SYSTEM},
    ),
    (
        "OpenThoughts, cut off inside the thought",
        {
            "system": STRATOS_SYSTEM,
            "conversations": [{"from": "user", "value": QUESTION}, {"from": "assistant", "value": "<|begin_of_thought|>\n\nSo 2 + 3 is"}],
        },
        "stratos",
        QUESTION,
        "So 2 + 3 is",
        "",
        None,
        "think_unclosed",
        None,
        {"system": STRATOS_SYSTEM},
    ),
    (
        "Alpaca, empty input: the instruction alone",
        {"instruction": QUESTION, "input": "", "output": R1},
        "alpaca",
        QUESTION,
        "Okay, so 2 + 3. That is 5.\n\nWait, let me check: 5 - 3 = 2. Yes.",
        "So the answer is $\\boxed{5}$.",
        "5",
        "think",
        None,
        {},
    ),
    (
        "Alpaca, instruction and input joined",
        {"instruction": "Solve the problem.", "input": QUESTION, "output": R1},
        "alpaca",
        "Solve the problem.\n\n" + QUESTION,
        "Okay, so 2 + 3. That is 5.\n\nWait, let me check: 5 - 3 = 2. Yes.",
        "So the answer is $\\boxed{5}$.",
        "5",
        "think",
        None,
        {},
    ),
]


@pytest.mark.parametrize(
    "name, row, fmt, question, reasoning, final, answer, delimiter, gold, meta", READ_CASES, ids=[c[0] for c in READ_CASES]
)
def test_each_format_reads_into_one_shape(name, row, fmt, question, reasoning, final, answer, delimiter, gold, meta):
    assert detect_format(row) == fmt
    got = extract(row, fmt, resolve_fields(row, fmt))
    assert not isinstance(got, Reject), got
    assert (got.question, got.reasoning, got.final, got.answer, got.delimiter, got.gold, got.meta) == (
        question,
        reasoning,
        final,
        answer,
        delimiter,
        gold,
        meta,
    )


def test_a_reasoning_column_is_rebuilt_into_a_think_completion():
    row = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "reasoning_content": "R", "content": "F"}]}
    assert extract(row, "messages").completion == "<think>\nR\n</think>\n\nF"


def _chat(*turns, key="messages"):
    if key == "messages":
        return {"messages": [{"role": r, "content": c} for r, c in turns]}
    return {"conversations": [{"from": r, "value": c} for r, c in turns]}


# (what is wrong, row, format, reason)
DEFECT_CASES = [
    ("no assistant turn", _chat(("user", QUESTION)), "messages", "no_assistant_turn"),
    ("two assistant turns", _chat(("user", QUESTION), ("assistant", R1), ("assistant", R1)), "messages", "several_assistant_turns"),
    (
        "a multi-turn chat",
        _chat(("human", "Q1"), ("gpt", "A1"), ("human", "Q2"), ("gpt", "A2"), key="sharegpt"),
        "sharegpt",
        "several_assistant_turns",
    ),
    (
        "starts with the assistant",
        _chat(("gpt", "Hello! Ask me."), ("human", QUESTION), key="sharegpt"),
        "sharegpt",
        "starts_with_assistant",
    ),
    ("empty value", _chat(("human", QUESTION), ("gpt", "  "), key="sharegpt"), "sharegpt", "empty_turn"),
    ("empty question", _chat(("user", ""), ("assistant", R1)), "messages", "empty_turn"),
    (
        "a user turn after the answer",
        _chat(("user", QUESTION), ("assistant", R1), ("user", "thanks")),
        "messages",
        "user_turn_after_answer",
    ),
    ("a tool turn", _chat(("user", QUESTION), ("tool", "5"), ("assistant", R1)), "messages", "unsupported_role"),
    (
        "content is an object",
        {"messages": [{"role": "user", "content": {"text": QUESTION}}, {"role": "assistant", "content": R1}]},
        "messages",
        "not_a_string",
    ),
    ("messages is not a list", {"messages": "What is 2+3?"}, "messages", "not_a_conversation"),
    ("messages is empty", {"messages": []}, "messages", "not_a_conversation"),
    ("a turn is not an object", {"conversations": ["hi", "there"]}, "sharegpt", "not_a_conversation"),
    ("Alpaca without output", {"instruction": QUESTION, "input": "", "output": ""}, "alpaca", "missing_completion"),
    ("Alpaca input is a list", {"instruction": QUESTION, "input": [1, 2], "output": R1}, "alpaca", "not_a_string"),
    ("flat, completion missing", {"question": QUESTION, "completion": None}, "flat", "missing_completion"),
    ("flat, completion is a list", {"question": QUESTION, "completion": ["a", "b"]}, "flat", "not_a_string"),
    ("flat, gold is a list", {"question": QUESTION, "completion": R1, "answer": ["5", "five"]}, "flat", "not_a_string"),
    ("nothing inside <think>", {"question": QUESTION, "completion": "<think>\n\n</think>\n\n5"}, "flat", "empty_trace"),
]


@pytest.mark.parametrize("name, row, fmt, reason", DEFECT_CASES, ids=[c[0] for c in DEFECT_CASES])
def test_each_defect_is_a_reject_with_its_reason(name, row, fmt, reason):
    got = extract(row, fmt)
    assert isinstance(got, Reject) and got.reason == reason, got
    _, detail = got  # unpacks as (reason, detail), for StageOutput.reject(item_id, *got)
    assert detail and "{'" not in detail and "['" not in detail  # says where, never with the repr of the row's data


def test_a_field_path_reaches_into_nested_data():
    row = {"messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": R1}], "meta": {"gold": {"value": "5"}}}
    spec = resolve_fields(
        row, "messages", FieldSpec(question="messages.-2.content", completion="messages.-1.content", answer="meta.gold.value")
    )
    got = extract(row, "messages", spec)
    assert (got.question, got.answer, got.gold) == (QUESTION, "5", "5")


def test_a_field_that_is_not_text_is_rejected_not_turned_into_python_text():
    row = {"messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": R1}]}
    spec = resolve_fields(row, "flat", FieldSpec(question="messages", completion="messages.1.content"))
    assert extract(row, "flat", spec) == Reject("not_a_string", "question field 'messages' holds a list, not text")


def test_a_named_field_the_file_lacks_is_a_usage_error():
    row = {"messages": [{"role": "user", "content": "q"}]}
    with pytest.raises(UsageError, match="messages.5.content"):
        resolve_fields(row, "messages", FieldSpec(question="messages.5.content"))
    with pytest.raises(UsageError, match="no question field"):
        resolve_fields({"text": "x"}, "flat")


# (what, text, options, reasoning, final, delimiter)
SPLIT_CASES = [
    ("think", "<think>R</think>F", {}, "R", "F", "think"),
    ("prompt echoed before <think>", "User: hi<think>R</think>F", {}, "R", "F", "think"),
    ("opened <think>, cut off", "<think>R and then", {}, "R and then", "", "think_unclosed"),
    (
        "Stratos",
        STRATOS_ANSWER,
        {},
        "Okay, let's see. Two plus three.\n\nSo 2 + 3 = 5.",
        "Adding gives $2 + 3 = 5$.\n\n\\[\n\\boxed{5}\n\\]",
        "stratos",
    ),
    ("Stratos without solution markers", "<|begin_of_thought|>R<|end_of_thought|>F", {}, "R", "F", "stratos"),
    ("reasoning column", "F", {"reasoning_column": " R "}, "R", "F", "column"),
    ("reasoning column, text with its own </think>", "<think>R2</think>F", {"reasoning_column": "R"}, "R2", "F", "think"),
    ("user delimiter", "<reasoning>R</reasoning>\nF", {"delimiter": "</reasoning>"}, "R", "F", "custom"),
    ("user delimiter, plain", "R\n## Final\nF", {"delimiter": "## Final"}, "R", "F", "custom"),
    ("no delimiter", "  R and F  ", {}, "R and F", "", "none"),
]


@pytest.mark.parametrize("name, text, options, reasoning, final, delimiter", SPLIT_CASES, ids=[c[0] for c in SPLIT_CASES])
def test_split_reasoning(name, text, options, reasoning, final, delimiter):
    got = split_reasoning(text, **options)
    assert (got.reasoning, got.final, got.delimiter) == (reasoning, final, delimiter)


def test_a_cut_off_trace_has_no_answer_and_a_plain_one_is_searched_whole():
    assert split_reasoning("<think>so \\boxed{5}").answer_region is None
    assert split_reasoning("so \\boxed{5}").answer_region == "so \\boxed{5}"


def test_too_long_is_rejected_with_its_length():
    from leancot.tokens import count_tokens

    long = "So 2 + 3 = 5. " * 20
    assert formats.check_length("two words", max_tokens=100) == count_tokens("two words")
    got = formats.check_length(long, max_tokens=10)
    assert got == Reject("too_long", f"{count_tokens(long)} reasoning tokens > 10 (--max-reasoning-tokens)")
    assert formats.check_length(long, max_tokens=None) == count_tokens(long)


def test_chat_files_read_the_same_with_lf_crlf_and_bom(tmp_path):
    rows = [
        _chat(("human", QUESTION), ("gpt", R1), key="sharegpt"),
        _chat(("human", "Q2"), ("gpt", "<think>a\nb</think>c"), key="sharegpt"),
    ]
    text = "\n".join(json.dumps(r) for r in rows) + "\n"
    crlf = json.dumps(rows[0]).replace("\\n", "\\r\\n") + "\r\n" + json.dumps(rows[1]).replace("\\n", "\\r") + "\r\n"
    files = {"lf": text.encode(), "crlf": crlf.encode(), "bom": b"\xef\xbb\xbf" + crlf.encode()}
    read = {}
    for name, data in files.items():
        (tmp_path / f"{name}.jsonl").write_bytes(data)
        got = [r.data for r in iter_rows(tmp_path / f"{name}.jsonl")]
        read[name] = [extract(d, detect_format(got[0])) for d in got]
    assert read["lf"] == read["crlf"] == read["bom"]
    assert read["lf"][0].reasoning.count("\n") == 2 and "\r" not in repr(read["crlf"])
