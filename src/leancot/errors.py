"""Errors that mean "the user asked for something we cannot do".

The CLI turns a ``UsageError`` into a one-line message and exit code 2; anything
else is a bug and keeps its traceback.
"""


class UsageError(Exception):
    """Bad input from the user: a missing file, an unknown name, a bad flag (exit 2)."""
