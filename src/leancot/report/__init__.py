"""``leancot report``: a self-contained HTML report (plots, tables, trace viewer) of run directories.

``collect`` reads run directories into typed summaries, ``plots`` draws them, ``tables``
formats them, ``html`` renders report.html / report.md, ``stage.run`` ties them together.
"""

from leancot.report.stage import ReportConfig, run

__all__ = ["ReportConfig", "run"]
