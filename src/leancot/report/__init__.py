"""``leancot report``: a self-contained HTML report (plots, tables, trace viewer) of run directories.

``collect`` reads run directories into typed summaries, ``plots`` draws them, ``tables``
formats them, ``html`` renders report.html / report.md, ``stage.run`` ties them together.
"""

from leancot.report.config import ReportConfig
from leancot.report.stage import run

__all__ = ["ReportConfig", "run"]
