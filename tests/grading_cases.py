"""Tables of grading cases, in the styles real models write. Add a row for every bug found.

Sources: the 40 bundled R1-distill traces (tested directly from the data file), and
answer styles seen in DeepSeek-R1 distills, Qwen2.5-Math, Llama "The final answer is",
Minerva "I hope it is correct", GSM8K ``####`` solutions, MATH and AIME/AMC golds.
"""

# (output, fallback_last_number, expected answer, expected method)
EXTRACT_CASES = [
    # R1 style: reasoning, </think>, then a boxed answer
    ("<think>\nSo 3*4=12.\n</think>\n\nThe total is \\(\\boxed{12}\\).", False, "12", "boxed"),
    # a draft boxed inside the reasoning is ignored: the answer is after </think>
    ("<think>maybe \\boxed{11}? no.</think>\n**Final Answer**\n\\[\n\\boxed{12}\n\\]", False, "12", "boxed"),
    ("<think>I get \\boxed{7}</think>\nThe answer is 8.", False, "8", "answer_is"),
    # the prompt echoed before <think> is not searched either
    ("Problem: \\boxed{1}? Solution: \n<think>\nok\n</think>\n\\boxed{2}", False, "2", "boxed"),
    # the LAST boxed wins; nested braces are kept whole
    ("First \\boxed{1}, then \\boxed{\\frac{1}{\\sqrt{2}}}.", False, "\\frac{1}{\\sqrt{2}}", "boxed"),
    ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", False, "\\left( 3, \\frac{\\pi}{2} \\right)", "boxed"),
    ("$\\boxed{-\\dfrac{5}{12}}$", False, "-\\dfrac{5}{12}", "boxed"),
    ("The answer is $\\boxed 5$.", False, "5", "boxed"),
    ("\\fbox{42}", False, "42", "boxed"),
    ("\\boxed {7}", False, "7", "boxed"),
    # an unclosed box at the end (cut off) falls back to the previous complete one after </think>;
    # in an open text it is a text that stops mid-thought (see the table below)
    ("<think>ok</think>\\boxed{3} ... so \\boxed{\\frac{1", False, "3", "boxed"),
    ("\\boxed{}", False, None, None),
    # an empty box after "the answer is" is no answer, not the text "\\boxed{}"; nor is a box cut off
    ("The answer is \\boxed{}.", False, None, None),
    ("So 4 + 1 = 5. The final answer is $\\boxed{ }$", False, None, None),
    ("The answer is \\boxed{\\frac{1", False, None, None),
    # Llama / Minerva / plain "answer is" styles
    ("The final answer is $\\frac{3}{4}$. I hope it is correct.", False, "\\frac{3}{4}", "answer_is"),
    ("Therefore, the answer is 1,234.", False, "1,234", "answer_is"),
    ("**Answer:** 17", False, "17", "answer_is"),
    ("Answer: $\\$18.00$", False, "\\$18.00", "answer_is"),
    ("The answer is therefore 3.", False, "3", "answer_is"),
    ("the answer is: \\(x = 2\\)", False, "x = 2", "answer_is"),
    # GSM8K solutions
    ("She makes 9 * 2 = $<<9*2=18>>18.\n#### 18", False, "18", "hashes"),
    ("#### 1,000", False, "1,000", "hashes"),
    # both inline markers: the one written last wins; calculator notes are dropped
    ("The answer is <<8=8>>8.\n#### 8", False, "8", "hashes"),
    ("the final answer is 15 gallons * 8 = <<15*8=120>>120 pints\n#### 120", False, "120", "hashes"),
    ("#### 5\nSo the answer is 6.", False, "6", "answer_is"),
    # last-number fallback: only when asked, and flagged as such
    ("So she has 3 + 4 = 7 apples", False, None, None),
    ("So she has 3 + 4 = 7 apples", True, "7", "last_number"),
    ("It costs $1,250.50 in total", True, "1250.50", "last_number"),
    ("Temperature drops to -5 degrees.", True, "-5", "last_number"),
    ("No numbers here.", True, None, None),
    ("<think>ok</think>\\boxed{9} and 10 more", True, "9", "boxed"),
    # cut off inside <think>: no answer, even with a boxed in the reasoning
    ("<think>\nLet me compute... \\boxed{5} wait", False, None, None),
    ("<think>\nLet me compute... 5", True, None, None),
    # --- a text without </think> that stops mid-thought: its last answer is tentative, not final (issue 21)
    ("Then 4 + 5 = 9, so maybe \\boxed{9}? Then times 2 is", False, None, None),
    ("Then 4 + 5 = 9, so maybe \\boxed{9}? Then times 2 is", True, None, None),  # not the last number either
    ("So the answer is 9? Then times 2 is", False, None, None),
    ("So maybe \\boxed{9}?", False, None, None),
    ("The sum is \\boxed{9}. Wait, let me check that again.", False, None, None),
    ("\\boxed{9}\n\nTo verify: 4 + 5 = 9.", False, None, None),
    ("\\boxed{3} ... so \\boxed{\\frac{1", False, None, None),  # cut off inside a box
    ("\\boxed{9} and 10 more", True, None, None),
    # R1-Distill-Qwen-14B reasoning (math-330) cut at 60%, without its tags
    (
        "So yes, 88572.\n\nTherefore, the final answer is 88572.\n\nWait, but let me make sure I didn't make a mistake in "
        "computing the layers. Let me go through each layer again.\n\nLayer 1:",
        False,
        None,
        None,
    ),
    # --- ... while an answer that concludes the text still counts
    ("So 4 + 5 = 9.\n\n\\boxed{9}", False, "9", "boxed"),
    ("So 4 + 5 = 9.\n\n\\boxed{9}.", False, "9", "boxed"),
    ("The total is \\boxed{9}. Hope this helps!", False, "9", "boxed"),
    ("The total is \\boxed{9}.\n\nLet me know if you have any other questions!", False, "9", "boxed"),
    ("So she has \\boxed{9} apples.", False, "9", "boxed"),
    ("The rate is $\\boxed{25}\\%$.", False, "25", "boxed"),
    ("The side is $\\boxed{5}\\text{ cm}$.", False, "5", "boxed"),
    ("The final answer is: $\\boxed{9}$", False, "9", "boxed"),
    ("Thus\n\\[\n\\boxed{\\dfrac{5}{12}}\n\\]", False, "\\dfrac{5}{12}", "boxed"),
    ("**Final Answer**\n\\boxed{9}<|im_end|>", False, "9", "boxed"),
    ("Final Answer: The final answer is $3$. I hope it is correct.", False, "3", "answer_is"),
    ("\\boxed{8} was wrong: 4 + 5 = 9.\n\nThe answer is 9.", False, "9", "answer_is"),  # the concluding one, not the last box
    ("Janet sells 16 - 3 - 4 = 9 eggs.\n#### 9", False, "9", "hashes"),
    # R1-Distill-Qwen-14B reasoning (math-2238), whole, without its tags: it ends on its answer
    ("So, the coefficient is 120.\n\n**Final Answer**\nThe coefficient of \\(a^2b^2\\) is \\boxed{120}.", False, "120", "boxed"),
    # after </think> every answer counts, whatever follows it
    ("<think>\nmaybe \\boxed{8}? then times 2\n</think>\n\n**Final Answer**\n\\boxed{9}", False, "9", "boxed"),
    ("<think>ok</think>The answer is \\boxed{9}. Let me double-check: 4 + 5 = 9.", False, "9", "boxed"),
]

# (text, expected (reasoning, final, closed))
SPLIT_CASES = [
    ("Q? Solution: \n<think>\nR\n</think>\n\nF", ("R", "F", True)),
    ("R</think>F", ("R", "F", True)),  # the prompt ended with <think>, not the output
    ("<think>R", ("R", "", False)),
    ("no tags, answer \\boxed{1}", ("no tags, answer \\boxed{1}", "", True)),
    ("<think>a</think>b</think>c", ("a</think>b", "c", True)),
]

# (input, normalised)
NORMALIZE_CASES = [
    ("  42 ", "42"),
    ("$1,000$", "1000"),
    ("1{,}000", "1000"),
    ("\\$27.00", "27"),
    ("18 dollars", "18"),
    ("50\\%", "50"),
    ("50%", "50"),
    ("5\\text{ cm}", "5"),
    ("12 \\mbox{ inches}", "12"),
    ("3 sq. ft", "3"),
    ("90^\\circ", "90"),
    ("90^{\\circ}", "90"),
    ("\\dfrac{1}{2}", "\\frac{1}{2}"),
    ("\\tfrac12", "\\frac12"),
    ("\\frac{1} { 4027}", "\\frac{1}{4027}"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
    ("(1,2)", "(1,2)"),  # a tuple keeps its comma
    ("(1,234)", "(1,234)"),
    ("025", "25"),
    ("27.0", "27"),
    ("-0.50", "-0.5"),
    ("-0", "0"),
    (27, "27"),
    (27.0, "27"),
    (0.5, "0.5"),
    ("\\boxed{\\textbf{(073)}}", "73"),
    ("\\text{Evelyn}", "Evelyn"),
    ("5x", "5x"),  # a variable is not a unit
    ("x \\cdot y", "x\\cdot y"),
    ("7.", "7"),
    (None, ""),
]

# (prediction, gold, equivalent?)
EQUIV_CASES = [
    # the pairs the R1 traces produce
    ("-\\dfrac{1}{4027}", "-\\frac{1} { 4027}", True),
    ("\\dfrac{1}{4027}", "-\\frac{1} { 4027}", False),  # a sign error never matches
    ("-\\dfrac{5}{12}", "-\\frac{5}{12}", True),
    ("\\dfrac{24}{5}", "-\\frac{5}{12}", False),
    ("6.18", "6.17", False),
    ("6.17", "6.17", True),
    ("188743314", "88572", False),
    # numbers in model forms
    ("\\boxed{025}", "25", True),
    ("025", 25, True),
    ("\\boxed{27}", 27.0, True),
    ("$27.00", 27.0, True),
    ("27", "27.0", True),
    ("1,000", "1000", True),
    ("\\$18", "18", True),
    ("18 dollars", "18", True),
    ("50\\%", "50", True),
    ("90^\\circ", "90", True),
    ("0.5", "\\frac{1}{2}", True),
    ("\\frac12", "0.5", True),
    ("0.25", "\\frac{1}{2}", False),
    ("3.0", 3, True),
    # expressions math-verify decides
    ("2\\sqrt{2}", "\\sqrt{8}", True),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", True),
    ("\\frac{\\pi}{2}", "\\frac{\\pi}{3}", False),
    ("(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
    ("(1,2)", "(1, 2)", True),
    ("(2,1)", "(1,2)", False),
    ("[0,1)", "[0,1]", False),
    ("x = 5", "5", True),
    ("5x", "5", False),
    ("x^2+2x+1", "(x+1)^2", True),
    ("1/2", "\\frac{1}{2}", True),
    ("\\{1,2\\}", "\\{2,1\\}", True),  # sets are unordered
    ("3\\sqrt{3}", "\\sqrt{27}", True),
    ("10^{6}", "1,000,000", True),
    ("1.5\\text{ hours}", "\\frac32", True),
    ("-\\infty", "\\infty", False),
    (0.1 + 0.2, "0.3", True),
    ("\\text{Evelyn}", "Evelyn", True),
    ("Evelny", "Evelyn", False),  # not a product of commuting symbols
    ("\\textbf{(C)}", "\\text{(C)}", True),
    # nothing to compare
    (None, "5", False),
    ("", "5", False),
    ("5", None, False),
]
