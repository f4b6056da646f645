"""The CPU miniature of DRP and lead-span truncation: generated problems, a verbose teacher,
three students trained from scratch by the real stages (see ``leancot.lab.stage`` and ``leancot.lab.driver``)."""
