"""Errors that end a command with a chosen exit code and a one-line message.

The CLI turns each into ``error: ...`` on stderr and its exit code; anything else is a
bug and keeps its traceback. The codes (documented in the README):

- 0: the stage wrote at least one record (or the input was empty and ``--allow-empty`` said so);
- 1: ``StageFailed`` -- the input had rows but every one was rejected (the reasons are counted);
- 2: ``UsageError`` -- a missing file, a bad flag, an empty input, a directory in use;
  ``StageIncomplete`` -- a run stopped early by a service that stayed down (re-run to resume);
- 130 / 143: ``Interrupted`` by Ctrl-C / SIGTERM (the run resumes when the same command is re-run).
"""


class UsageError(Exception):
    """Bad input from the user: a missing file, an unknown name, a bad flag (exit 2)."""

    exit_code = 2


class StageFailed(Exception):
    """A stage ran to the end and wrote no record from a non-empty input (exit 1)."""

    exit_code = 1


class StageIncomplete(Exception):
    """A run that stopped early and resumably: e.g. the teacher server stayed down (exit 2)."""

    exit_code = 2


class Interrupted(Exception):
    """A run stopped by a signal; ``exit_code`` is 128 + the signal number (130 SIGINT, 143 SIGTERM)."""

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code
