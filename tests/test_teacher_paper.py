"""``prompt_style: drp-paper``: the official DRP prompts, their free-text answers, and the records they make."""

import pytest
from pydantic import ValidationError
from teacher_fixtures import by_id, write_traces

from leancot.prune.config import PruneConfig
from leancot.prune.skills import SKILLS
from leancot.prune.stage import run
from leancot.prune.teacher import prompts
from leancot.prune.teacher.config import TeacherConfig
from leancot.prune.teacher.parse import ParseError, parse_paper_compression, parse_paper_segmentation
from leancot.schema import Step

REASONING = "Tom has 3 apples. Hmm, let me think. He buys 4 more, so 3 + 4 = 7."
OFFICIAL_SEGMENT = (
    "Your task is to break it into a sequence of clear, non-overlapping steps, where each step corresponds to exactly "
    "one atomic mathematical skill (e.g., addition, subtraction, applying a formula, interpreting a quantity, "
    "simplifying, checking a condition)."
)
OFFICIAL_STYLE = (
    "synthesize them into a single, coherent reasoning path that maintains a fluent tone and matches the original speaker’s style"
)


def prune(inp, out, server, **teacher):
    teacher.setdefault("backoff_base", 0.01)
    teacher.setdefault("prompt_style", "drp-paper")
    teacher = TeacherConfig(model="gpt-4o-mini", base_url=server.base_url, **teacher)
    return run(PruneConfig(input=inp, out=out, method="llm", teacher=teacher))


def spy_on(server):
    seen = []
    original = server.responder

    def spy(body, fault):
        seen.append(body)
        return original(body, fault)

    server.responder = spy
    return seen


# ---------------------------------------------------------------- end to end


def test_a_paper_style_run_sends_the_official_prompts_and_records_atomic_skills(server, tmp_path):
    seen = spy_on(server)
    out = prune(write_traces(tmp_path / "in.jsonl", 3), tmp_path / "out", server)
    records = by_id(out / "records.jsonl")
    assert len(records) == 3
    r = records["t0"]
    assert r["method"] == "llm:gpt-4o-mini" and r["verified"] and r["pruned"] == "He buys 3 more, so 10 + 3 = 13. The answer is 13."
    assert "actions_inferred" not in r  # the teacher named every step's action
    assert [s["atomic_skill"] for s in r["steps"]][2] == "addition" and all(s["atomic_skill"] for s in r["steps"])
    assert all(s["skill"] in SKILLS for s in r["steps"])  # the discourse role, mapped to the taxonomy
    assert [s["action"] for s in r["steps"]] == ["delete", "delete", "keep", "delete", "delete"]
    segment = next(b for b in seen if b["messages"][0]["content"].startswith("You will be provided"))
    compress = next(b for b in seen if "reasoning compression" in b["messages"][0]["content"])
    assert OFFICIAL_SEGMENT in segment["messages"][0]["content"] and segment["messages"][1]["content"].startswith("<think>\nOkay")
    assert OFFICIAL_STYLE in compress["messages"][0]["content"]
    user = compress["messages"][1]["content"]
    assert user.startswith("Question:\nTom has 10 apples") and "\n\nReasoning Steps:\nStep 1: Okay" in user and "Skill: addition" in user
    assert all("response_format" not in body for body in seen)  # free text, as the paper asks, even with structured on


def test_a_malformed_step_answer_is_re_asked_with_the_error_fed_back(server, tmp_path):
    seen = spy_on(server)
    server.script = ["paper_no_skill"]
    out = prune(write_traces(tmp_path / "in.jsonl", 1), tmp_path / "out", server)
    record = by_id(out / "records.jsonl")["t0"]
    assert record["method"] == "llm:gpt-4o-mini" and record["verified"] and server.chat_requests == 3
    retry = seen[1]["messages"]
    assert retry[-2]["role"] == "assistant" and retry[-2]["content"].startswith("Step 1: Okay")
    assert 'step 1 has no "Skill:" line' in retry[-1]["content"] and "JSON" not in retry[-1]["content"]


@pytest.mark.parametrize(
    "faults, method, calls",
    [
        (["paper_loose"], "llm:gpt-4o-mini", 2),  # bold, "Step n." numbering, skill on the same line: read as is
        (["ok", "paper_no_hashes"], "llm:gpt-4o-mini", 3),  # no "##": re-asked
        (["ok", "wrong_answer", "wrong_answer"], "heuristic:llm-fallback", 3),
        (["no_cover", "no_cover"], "heuristic:llm-fallback", 2),
    ],
)
def test_paper_answers_are_read_tolerantly_and_checked_strictly(server, tmp_path, faults, method, calls):
    server.script = list(faults)
    record = by_id(prune(write_traces(tmp_path / "in.jsonl", 1), tmp_path / "out", server, concurrency=1) / "records.jsonl")["t0"]
    assert record["method"] == method and record["verified"] and server.chat_requests == calls


def test_steps_without_a_named_action_are_inferred_and_the_record_says_which(server, tmp_path):
    server.script = ["ok", "paper_silent"]
    record = by_id(prune(write_traces(tmp_path / "in.jsonl", 1), tmp_path / "out", server) / "records.jsonl")["t0"]
    assert record["verified"] and record["actions_inferred"] == [0, 1, 2, 3, 4]
    assert [s["action"] for s in record["steps"]] == ["delete", "delete", "keep", "delete", "delete"]


def test_the_leancot_style_is_unchanged_in_shape_and_asks_to_keep_the_speakers_style(server, tmp_path):
    seen = spy_on(server)
    record = by_id(prune(write_traces(tmp_path / "in.jsonl", 1), tmp_path / "out", server, prompt_style="leancot") / "records.jsonl")["t0"]
    assert record["verified"] and all(s["atomic_skill"] is None for s in record["steps"])
    assert "matches the original speaker's style" in seen[1]["messages"][1]["content"]
    assert "matches the original speaker's style" in prompts.load_prompt("compress_user")


# ---------------------------------------------------------------- config


def test_the_fingerprint_differs_between_the_two_styles(tmp_path):
    leancot, paper = TeacherConfig(model="m"), TeacherConfig(model="m", prompt_style="drp-paper")
    assert leancot.fingerprint_config() != paper.fingerprint_config()
    assert paper.fingerprint_config()["prompt_style"] == "drp-paper"
    inp = write_traces(tmp_path / "in.jsonl", 1)
    a = PruneConfig(input=inp, out=tmp_path / "o", method="llm", teacher=leancot).fingerprint_config()
    b = PruneConfig(input=inp, out=tmp_path / "o", method="llm", teacher=paper).fingerprint_config()
    assert a != b


def test_drp_paper_segments_verbatim_and_refuses_segment_output_units():
    assert TeacherConfig(model="m").segment_output == "units"
    assert TeacherConfig(model="m", prompt_style="drp-paper").segment_output == "text"
    assert TeacherConfig(model="m", prompt_style="drp-paper", segment_output="text").segment_output == "text"
    with pytest.raises(ValidationError, match="segment_output units cannot be used with prompt_style drp-paper"):
        TeacherConfig(model="m", prompt_style="drp-paper", segment_output="units")
    dumped = TeacherConfig(model="m", prompt_style="drp-paper").model_dump()
    assert TeacherConfig(**dumped).segment_output == "text"  # a recorded config loads again


def test_the_cli_refuses_units_with_drp_paper_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from leancot.cli import app

    inp = write_traces(tmp_path / "in.jsonl", 1)
    args = [
        "prune",
        str(inp),
        "--out",
        str(tmp_path / "out"),
        "--method",
        "llm",
        "--teacher-model",
        "m",
        "--prompt-style",
        "drp-paper",
        "--segment-output",
        "units",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "segment_output units cannot be used with prompt_style drp-paper" in result.output
    assert not (tmp_path / "out" / "records.jsonl").exists()


def test_the_paper_prompts_are_the_official_text():
    segment, compress = prompts.load_prompt("paper_segment_system"), prompts.load_prompt("paper_compress_system")
    assert segment.startswith("You will be provided with a full reasoning path. \nYour task is to break it")
    assert "Use the format: Step n: {{segment of original text}}\nSkill: {{skill used}}." in segment  # sent as written
    assert compress.endswith(
        "At the end, make sure there is a clarification of the answer starting with 'The answer is'.\n\n"
        "Output the integrated compressed reasoning starting with ##."
    )
    assert prompts.paper_segment_messages("  a\n")[1]["content"] == "<think>\na\n</think>"


# ---------------------------------------------------------------- parsing: Step n / Skill


@pytest.mark.parametrize(
    "answer",
    [
        (
            "Step 1: Tom has 3 apples.\nSkill: interpreting a quantity\n\nStep 2: Hmm, let me think.\nSkill: reflecting\n\n"
            "Step 3: He buys 4 more, so 3 + 4 = 7.\nSkill: addition"
        ),  # no trailing newline
        (
            "Here are the steps:\n\n**Step 1:** Tom has 3 apples.\n**Skill:** interpreting a quantity\n**Step 2:** Hmm, let me think.\n"
            "**Skill:** reflecting\n**Step 3:** He buys 4 more, so 3 + 4 = 7.\n**Skill:** addition.\n"
        ),
        (
            "Step 1. Tom has 3 apples. Skill: interpreting a quantity\nStep 2) Hmm, let me think. Skill: reflecting\n"
            "Step 3 - He buys 4 more, so 3 + 4 = 7. Skill used: addition"
        ),
        (
            "<think>Let me split it.</think>\n### Step 1: {Tom has 3 apples.}\nSkill: {interpreting a quantity}\n"
            "### Step 2: Hmm, let me think.\nSkill: reflecting\n### Step 7: He buys 4 more,\nso 3 + 4 = 7.\n   Skill:   addition\n\n"
        ),
        # braces, odd numbering, a line break inside a step
    ],
)
def test_paper_segmentation_reads_the_step_format_tolerantly(answer):
    steps = parse_paper_segmentation(answer, REASONING)
    assert [" ".join(s.text.split()) for s in steps] == ["Tom has 3 apples.", "Hmm, let me think.", "He buys 4 more, so 3 + 4 = 7."]
    assert [s.atomic_skill for s in steps] == ["interpreting a quantity", "reflecting", "addition"]
    assert all(s.skill in SKILLS for s in steps)


def test_a_step_line_copied_from_the_trace_stays_inside_its_step():
    reasoning = "Plan. Step 2: add them, 3 + 4 = 7."
    steps = parse_paper_segmentation("Step 1: Plan.\nSkill: planning\nStep 2: Step 2: add them,\n3 + 4 = 7.\nSkill: addition", reasoning)
    assert [s.text for s in steps] == ["Plan.", "Step 2: add them,\n3 + 4 = 7."] and steps[0].skill == "planning"


@pytest.mark.parametrize(
    "answer, error",
    [
        ("Tom has 3 apples. Hmm. 3 + 4 = 7.", 'no "Step n:" lines'),
        (
            "Step 1: Tom has 3 apples.\nStep 2: Hmm, let me think. He buys 4 more, so 3 + 4 = 7.\nSkill: addition",
            'step 1 has no "Skill:" line before step 2',
        ),
        ("Step 1: Tom has 3 apples. Hmm, let me think. He buys 4 more, so 3 + 4 = 7.", 'step 1 has no "Skill:" line'),
        ("Step 1:\nSkill: addition", "step 1 has no text"),
        ("Step 1: Tom has 3 apples. Hmm, let me think. He buys 4 more, so 3 + 4 = 7.\nSkill:", 'empty "Skill:" label'),
        ("Step 1: Tom has 3 apples.\nSkill: interpreting a quantity", "copy only"),
        ("Step 1: Tom owns 3 apples. Hmm, let me think. He buys 4 more, so 3 + 4 = 7.\nSkill: addition", "copy only"),
    ],
)
def test_paper_segmentation_errors_say_what_to_fix(answer, error):
    with pytest.raises(ParseError, match=error):
        parse_paper_segmentation(answer, REASONING)


# ---------------------------------------------------------------- parsing: the ## path


def _steps():
    return [
        Step(index=i, text=t, skill="computation", atomic_skill=a)
        for i, (t, a) in enumerate(
            [
                ("Tom has 3 apples.", "interpreting a quantity"),
                ("Hmm.", "reflecting"),
                ("He buys 4 more.", "interpreting a quantity"),
                ("3 + 4 = 7.", "addition"),
            ]
        )
    ]


def test_the_path_after_hashes_is_parsed_with_the_named_actions():
    answer = (
        "Step 1: KEEP - it sets up the problem.\n"
        "Step 2: DELETE (hesitation)\n"
        "Steps 3-4: MULTI-STEP COMPRESS\nMerged: He buys 4 more, so 3 + 4 = 7.\n\n"
        "## Integrated compressed reasoning\nTom has 3 apples. He buys 4 more, so 3 + 4 = 7. The answer is 7."
    )
    steps, pruned, inferred = parse_paper_compression(answer, _steps(), "7")
    assert pruned == "Tom has 3 apples. He buys 4 more, so 3 + 4 = 7. The answer is 7." and inferred == []
    assert [s.action for s in steps] == ["keep", "delete", "merge", "merge"]
    assert steps[2].rewritten == "He buys 4 more, so 3 + 4 = 7." and steps[3].rewritten == ""
    assert steps[3].atomic_skill == "addition"  # kept through the compression


def test_the_path_may_follow_hashes_on_the_same_line_and_unnamed_actions_are_inferred():
    answer = "1. Step 1 (interpreting a quantity): keep it.\n\n## Tom has 3 apples, and 3 + 4 = 7. The answer is 7."
    steps, pruned, inferred = parse_paper_compression(answer, _steps(), "7")
    assert pruned == "Tom has 3 apples, and 3 + 4 = 7. The answer is 7."
    assert [s.action for s in steps] == ["keep", "delete", "delete", "keep"] and inferred == [1, 2, 3]


def test_titled_evaluations_and_headings_do_not_leak_into_the_path():
    answer = (
        "### Step Evaluations\n\n1. **Step 1**: KEEP\n   - Necessary and already concise.\n2. **Step 2**: DELETE\n"
        '   - Hesitation; we keep nothing of it.\n3. **Step 3**: SINGLE-STEP COMPRESS\n   - Rewritten: "He buys 4."\n'
        "4. **Step 4**: KEEP\n\n## Integrated Compressed Reasoning:\n\nTom has 3 apples. He buys 4, so 3 + 4 = 7.\n\n"
        "## Final answer\nThe answer is 7."
    )
    steps, pruned, inferred = parse_paper_compression(answer, _steps(), "7")
    assert pruned == "Tom has 3 apples. He buys 4, so 3 + 4 = 7.\n\nThe answer is 7." and inferred == []
    assert [(s.action, s.rewritten) for s in steps] == [("keep", None), ("delete", None), ("compress", "He buys 4."), ("keep", None)]


@pytest.mark.parametrize(
    "answer, error",
    [
        ("Step 1: KEEP\nTom has 3 apples, 3 + 4 = 7. The answer is 7.", 'no "##"'),
        ("Step 1: KEEP\n##   ", 'nothing follows "##"'),
        ("## Tom has 3 apples, 3 + 4 = 7.", 'starting with "The answer is"'),
        ("## Tom has 3 apples, 3 + 4 = 8. The answer is 8.", "original trace's answer is 7"),
    ],
)
def test_paper_compression_errors_say_what_to_fix(answer, error):
    with pytest.raises(ParseError, match=error):
        parse_paper_compression(answer, _steps(), "7")
