"""MMEngine 0.10.7's momentum schedulers (``mmengine/optim/scheduler/momentum_scheduler.py``): the generic
schedulers on SGD's ``momentum`` or the Adam family's ``betas[0]``. (MMEngine has no OneCycle momentum.)"""

from __future__ import annotations

from seglab.engine.schedulers.base import MomentumMixin
from seglab.engine.schedulers.param_schedulers import (
    ConstantParamScheduler,
    CosineAnnealingParamScheduler,
    CosineRestartParamScheduler,
    ExponentialParamScheduler,
    LinearParamScheduler,
    MultiStepParamScheduler,
    PolyParamScheduler,
    StepParamScheduler,
)
from seglab.engine.schedulers.plateau import ReduceOnPlateauParamScheduler
from seglab.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register()
class ConstantMomentum(MomentumMixin, ConstantParamScheduler):
    """Multiplies the momentum by ``factor`` until the step before ``end``."""


@PARAM_SCHEDULERS.register()
class CosineAnnealingMomentum(MomentumMixin, CosineAnnealingParamScheduler):
    """Cosine annealing of the momentum to ``eta_min`` (or ``eta_min_ratio`` x its initial value)."""


@PARAM_SCHEDULERS.register()
class CosineRestartMomentum(MomentumMixin, CosineRestartParamScheduler):
    """Cosine annealing of the momentum with restarts after each of ``periods``."""


@PARAM_SCHEDULERS.register()
class ExponentialMomentum(MomentumMixin, ExponentialParamScheduler):
    """Multiplies the momentum by ``gamma`` every step."""


@PARAM_SCHEDULERS.register()
class LinearMomentum(MomentumMixin, LinearParamScheduler):
    """Scales the momentum by a factor going linearly from ``start_factor`` to ``end_factor``."""


@PARAM_SCHEDULERS.register()
class MultiStepMomentum(MomentumMixin, MultiStepParamScheduler):
    """Multiplies the momentum by ``gamma`` at each of ``milestones``."""


@PARAM_SCHEDULERS.register()
class PolyMomentum(MomentumMixin, PolyParamScheduler):
    """Polynomial decay of the momentum to ``eta_min``."""


@PARAM_SCHEDULERS.register()
class ReduceOnPlateauMomentum(MomentumMixin, ReduceOnPlateauParamScheduler):
    """Multiplies the momentum by ``factor`` when the validation metric ``monitor`` stalls."""


@PARAM_SCHEDULERS.register()
class StepMomentum(MomentumMixin, StepParamScheduler):
    """Multiplies the momentum by ``gamma`` every ``step_size`` steps."""
