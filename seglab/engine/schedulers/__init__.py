"""Parameter schedulers of ``param_scheduler``: MMEngine 0.10.7's learning-rate, momentum and generic
schedulers (and MMSegmentation's ``PolyLRRatio``), chained and stepped as MMEngine steps them.

``base.py`` holds the stepping protocol, ``param_schedulers.py`` and ``plateau.py`` the formulas,
``lr.py``/``momentum.py`` the names configs use, ``schedule.py`` the chain the runner drives."""

from seglab.engine.schedulers.base import INF, ParamScheduler
from seglab.engine.schedulers.schedule import LRSchedule, ParamSchedule

__all__ = ["INF", "LRSchedule", "ParamSchedule", "ParamScheduler"]
