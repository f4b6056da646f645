"""A short trace both scoring pruners' tests read: a computation, its check, and a second way to the answer."""

Q = "Tom buys 4 pens at 3 dollars each and a notebook for 5 dollars. How much does he pay?"
TRACE = """Okay, so Tom buys 4 pens at 3 dollars each and a notebook for 5 dollars.

Hmm, let me think.

The pens cost 4 * 3 = 12 dollars.

So the total is 12 + 5 = 17 dollars.

Let me double-check: 4 * 3 = 12 and 12 + 5 = 17. Yes, that's correct.

Alternatively, 3 + 3 + 3 + 3 = 12, plus 5 gives 17 again.

So the answer is 17."""
