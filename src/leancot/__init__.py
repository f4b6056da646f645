"""leancot: make reasoning models think shorter.

Importing the package has no side effects; stages live in their own modules
(``leancot.prune``, ``leancot.grading``, ``leancot.data`` ...) and the CLI in
``leancot.cli``.
"""

__version__ = "0.1.0"
