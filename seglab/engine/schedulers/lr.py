"""MMEngine 0.10.7's learning-rate schedulers (``mmengine/optim/scheduler/lr_scheduler.py``) and
MMSegmentation's ``PolyLRRatio``: the generic schedulers with ``param_name='lr'``."""

from __future__ import annotations

from seglab.engine.schedulers.base import LRMixin
from seglab.engine.schedulers.param_schedulers import (
    ConstantParamScheduler,
    CosineAnnealingParamScheduler,
    CosineRestartParamScheduler,
    ExponentialParamScheduler,
    LinearParamScheduler,
    MultiStepParamScheduler,
    OneCycleParamScheduler,
    PolyParamScheduler,
    StepParamScheduler,
)
from seglab.engine.schedulers.plateau import ReduceOnPlateauParamScheduler
from seglab.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register()
class ConstantLR(LRMixin, ConstantParamScheduler):
    """Multiplies the lr by ``factor`` until the step before ``end``."""


@PARAM_SCHEDULERS.register()
class CosineAnnealingLR(LRMixin, CosineAnnealingParamScheduler):
    """Cosine annealing of the lr to ``eta_min`` (or ``eta_min_ratio`` x the initial lr)."""


@PARAM_SCHEDULERS.register()
class CosineRestartLR(LRMixin, CosineRestartParamScheduler):
    """Cosine annealing of the lr with restarts after each of ``periods``."""


@PARAM_SCHEDULERS.register()
class ExponentialLR(LRMixin, ExponentialParamScheduler):
    """Multiplies the lr by ``gamma`` every step."""


@PARAM_SCHEDULERS.register()
class LinearLR(LRMixin, LinearParamScheduler):
    """Scales the lr by a factor going linearly from ``start_factor`` to ``end_factor``."""


@PARAM_SCHEDULERS.register()
class MultiStepLR(LRMixin, MultiStepParamScheduler):
    """Multiplies the lr by ``gamma`` at each of ``milestones``."""


@PARAM_SCHEDULERS.register()
class OneCycleLR(LRMixin, OneCycleParamScheduler):
    """The 1cycle lr policy (up to ``eta_max``, then down; not chainable)."""


@PARAM_SCHEDULERS.register()
class PolyLR(LRMixin, PolyParamScheduler):
    """Polynomial decay of the lr to ``eta_min``."""


@PARAM_SCHEDULERS.register()
class ReduceOnPlateauLR(LRMixin, ReduceOnPlateauParamScheduler):
    """Multiplies the lr by ``factor`` when the validation metric ``monitor`` stalls."""


@PARAM_SCHEDULERS.register()
class StepLR(LRMixin, StepParamScheduler):
    """Multiplies the lr by ``gamma`` every ``step_size`` steps."""


@PARAM_SCHEDULERS.register()
class PolyLRRatio(PolyLR):
    """MMSegmentation's PolyLR whose floor is ``eta_min_ratio`` x the group's initial lr (else ``eta_min``)."""

    def __init__(self, eta_min_ratio: float | None = None, **kwargs) -> None:
        self.eta_min_ratio = eta_min_ratio
        super().__init__(**kwargs)

    def get_values(self) -> list[float]:
        if self.eta_min_ratio is None or self.last_step == 0:
            return super().get_values()
        ratio = (1 - 1 / (self.total_iters - self.last_step + 1)) ** self.power
        floors = [base * self.eta_min_ratio for base in self.base_values]
        return [(v - floor) * ratio + floor for v, floor in zip(self.current(), floors)]
