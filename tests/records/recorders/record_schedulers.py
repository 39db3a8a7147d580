"""Record MMEngine 0.10.7's parameter schedulers: lr (and momentum, weight decay) at every iteration.

Run with the reference environment's Python (MMEngine 0.10.7, torch 2.13 CPU):
    $HOME/mmref/bin/python tests/records/recorders/record_schedulers.py \
        tests/records/schedulers/mmengine_0.10.7_schedulers.json.gz

Each case builds its ``param_scheduler`` list with MMEngine's own ``Runner._build_param_scheduler`` (default
``end`` from the loop, ``convert_to_iter_based``) on a toy optimizer with two parameter groups, then steps it
with MMEngine's ``ParamSchedulerHook`` the way ``IterBasedTrainLoop``/``EpochBasedTrainLoop`` call it:
``after_train_iter`` after every iteration, ``after_train_epoch`` after every epoch, ``after_val_epoch`` with
the next value of the case's recorded metric sequence after every due validation. The values an iteration
trains with (read before it) are recorded. Nothing is random: running it twice writes identical bytes.
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import mmengine
import torch
from mmengine.hooks import ParamSchedulerHook
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmengine.runner.loops import EpochBasedTrainLoop, IterBasedTrainLoop

SGD = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4, groups=[{}, dict(lr=0.02, momentum=0.8)])
ADAMW = dict(
    type="AdamW", lr=0.01, betas=(0.9, 0.999), weight_decay=0.05, groups=[{}, dict(lr=0.001, betas=(0.85, 0.99))]
)
ITERS = dict(by_epoch=False, max_iters=40, epoch_length=8, val_interval=4)
EPOCHS = dict(by_epoch=True, max_epochs=6, epoch_length=5, val_interval=1)
RISING = [30.0, 31.0, 31.0, 30.5, 32.0, 32.001, 31.0, 31.5, 33.0, 29.0]  # mIoU after each validation
FALLING = [1.0, 0.9, 0.895, 0.95, 0.7, 0.7, 0.69]  # a loss after each validation


def case(schedulers, optimizer=SGD, loop=ITERS, record=("lr",), monitor=None, metrics=()):
    return dict(
        optimizer=optimizer,
        loop=loop,
        param_scheduler=schedulers,
        record=list(record),
        monitor=monitor,
        metrics=list(metrics),
    )


def it(type_, **kw):
    return dict(type=type_, by_epoch=False, **kw)


LR_M = ("lr", "momentum")
CASES = {
    # every lr scheduler, iteration-based
    "PolyLR": case([it("PolyLR", eta_min=1e-4, power=0.9, begin=0, end=30)]),
    "LinearLR": case([it("LinearLR", start_factor=0.1, end_factor=0.9, begin=2, end=20)]),
    "ConstantLR": case([it("ConstantLR", factor=0.5, begin=3, end=15)]),
    "MultiStepLR": case([it("MultiStepLR", milestones=[5, 5, 12], gamma=0.5, begin=4, end=35)]),
    "StepLR": case([it("StepLR", step_size=7, gamma=0.5, begin=1)]),
    "ExponentialLR": case([it("ExponentialLR", gamma=0.95, begin=0, end=30)]),
    "CosineAnnealingLR": case([it("CosineAnnealingLR", T_max=10, eta_min=1e-3, end=40)]),
    "CosineAnnealingLR_eta_min_ratio": case([it("CosineAnnealingLR", eta_min_ratio=0.05, begin=5)]),
    "OneCycleLR": case([it("OneCycleLR", eta_max=0.5, pct_start=0.25)]),
    "OneCycleLR_three_phase_linear": case(
        [
            it(
                "OneCycleLR",
                eta_max=0.5,
                total_steps=40,
                pct_start=0.3,
                three_phase=True,
                anneal_strategy="linear",
                div_factor=10.0,
                final_div_factor=100.0,
            )
        ]
    ),
    "CosineRestartLR": case([it("CosineRestartLR", periods=[10, 15, 10], restart_weights=[1, 0.6, 0.3], eta_min=1e-3)]),
    "CosineRestartLR_eta_min_ratio": case(
        [it("CosineRestartLR", periods=[12, 12], restart_weights=[1, 0.5], eta_min_ratio=0.1, begin=4, end=36)]
    ),
    # every momentum scheduler (SGD's momentum, AdamW's betas[0])
    "LinearMomentum": case([it("LinearMomentum", start_factor=0.5, begin=0, end=12)], record=LR_M),
    "CosineAnnealingMomentum": case([it("CosineAnnealingMomentum", T_max=20, eta_min=0.5)], ADAMW, record=LR_M),
    "ConstantMomentum": case([it("ConstantMomentum", factor=0.9, begin=2, end=10)], record=LR_M),
    "ExponentialMomentum": case([it("ExponentialMomentum", gamma=0.99, end=25)], ADAMW, record=LR_M),
    "MultiStepMomentum": case([it("MultiStepMomentum", milestones=[6, 20], gamma=0.9)], record=LR_M),
    "StepMomentum": case([it("StepMomentum", step_size=9, gamma=0.95)], ADAMW, record=LR_M),
    "PolyMomentum": case([it("PolyMomentum", eta_min=0.5, power=2.0, end=30)], record=LR_M),
    "CosineRestartMomentum": case(
        [it("CosineRestartMomentum", periods=[15, 25], restart_weights=[1, 0.95], eta_min_ratio=0.8)],
        ADAMW,
        record=LR_M,
    ),
    # MMEngine's generic schedulers on any key
    "CosineAnnealingParamScheduler_weight_decay": case(
        [it("CosineAnnealingParamScheduler", param_name="weight_decay", eta_min=0.0)], record=("lr", "weight_decay")
    ),
    "LinearParamScheduler_lr": case([it("LinearParamScheduler", param_name="lr", start_factor=0.25, end=9)]),
    # chains
    "chain_LinearLR_OneCycleLR": case(
        [it("LinearLR", start_factor=0.1, begin=0, end=10), it("OneCycleLR", eta_max=0.3, begin=10, end=40)]
    ),
    "chain_PolyLR_CosineRestartLR": case(
        [
            it("PolyLR", eta_min=0.0, power=1.0, begin=0, end=20),
            it("CosineRestartLR", periods=[10, 10], restart_weights=[1, 0.5], eta_min=1e-4, begin=20, end=40),
        ]
    ),
    "chain_overlapping_LinearLR_CosineAnnealingLR": case(
        [it("LinearLR", start_factor=0.2, begin=0, end=15), it("CosineAnnealingLR", eta_min=0.01, begin=0, end=40)]
    ),
    "chain_lr_and_momentum": case(
        [
            it("LinearLR", start_factor=0.01, begin=0, end=5),
            it("PolyLR", eta_min=1e-5, power=0.9, begin=5, end=40),
            it("LinearMomentum", start_factor=0.9, end_factor=1.0, begin=0, end=5),
            it("CosineAnnealingMomentum", eta_min_ratio=0.9, begin=5, end=40),
        ],
        ADAMW,
        record=LR_M,
    ),
    # epoch-based schedulers in an EpochBasedTrainLoop (default end: max_epochs)
    "PolyLR_by_epoch": case([dict(type="PolyLR", eta_min=1e-3, power=2.0)], loop=EPOCHS),
    "MultiStepLR_by_epoch": case([dict(type="MultiStepLR", milestones=[2, 4], gamma=0.2)], loop=EPOCHS),
    "CosineAnnealingMomentum_by_epoch": case(
        [dict(type="CosineAnnealingMomentum", eta_min=0.5, begin=1)], ADAMW, EPOCHS, record=LR_M
    ),
    "chain_iter_warmup_epoch_steps": case(
        [it("LinearLR", start_factor=0.1, begin=0, end=7), dict(type="MultiStepLR", milestones=[3, 5], gamma=0.5)],
        loop=EPOCHS,
    ),
    # convert_to_iter_based=True: epoch arguments counted in iterations
    "convert_PolyLR": case([dict(type="PolyLR", eta_min=1e-4, power=0.9, convert_to_iter_based=True)], loop=EPOCHS),
    "convert_LinearLR_StepLR": case(
        [
            dict(type="LinearLR", start_factor=0.2, begin=0, end=1, convert_to_iter_based=True),
            dict(type="StepLR", step_size=2, gamma=0.5, begin=1, convert_to_iter_based=True),
        ],
        loop=EPOCHS,
    ),
    "convert_CosineAnnealingLR_T_max": case(
        [dict(type="CosineAnnealingLR", T_max=3, eta_min=1e-3, convert_to_iter_based=True)], loop=EPOCHS
    ),
    "convert_OneCycleLR": case(
        [dict(type="OneCycleLR", eta_max=0.4, total_steps=6, convert_to_iter_based=True)], loop=EPOCHS
    ),
    "convert_CosineRestartLR_MultiStepMomentum": case(
        [
            dict(
                type="CosineRestartLR",
                periods=[2, 4],
                restart_weights=[1, 0.5],
                eta_min=0.0,
                convert_to_iter_based=True,
            ),
            dict(type="MultiStepMomentum", milestones=[1, 3], gamma=0.9, convert_to_iter_based=True),
        ],
        loop=EPOCHS,
        record=LR_M,
    ),
    # MMEngine steps a by_epoch scheduler after epochs only: in an iteration-based loop it keeps its first value
    "by_epoch_LinearLR_in_iteration_loop": case([dict(type="LinearLR", start_factor=0.1, end=20)]),
    # ReduceOnPlateau, fed a recorded metric sequence after each validation
    "ReduceOnPlateauLR_iterations": case(
        [dict(type="ReduceOnPlateauLR", monitor="mIoU", rule="greater", factor=0.5, patience=1, cooldown=1)],
        monitor="mIoU",
        metrics=RISING,
    ),
    "ReduceOnPlateauLR_epochs_abs_min_value": case(
        [
            it("LinearLR", start_factor=0.5, begin=0, end=6),
            dict(
                type="ReduceOnPlateauLR",
                monitor="loss",
                rule="less",
                threshold_rule="abs",
                threshold=0.01,
                factor=0.3,
                patience=0,
                min_value=0.005,
                begin=1,
                end=5,
            ),
        ],
        loop=EPOCHS,
        monitor="loss",
        metrics=FALLING,
    ),
    "ReduceOnPlateauMomentum_adamw": case(
        [
            dict(
                type="ReduceOnPlateauMomentum",
                monitor="mIoU",
                rule="greater",
                threshold=0.02,
                factor=0.9,
                patience=0,
                min_value=[0.5, 0.8],
            )
        ],
        ADAMW,
        record=LR_M,
        monitor="mIoU",
        metrics=RISING,
    ),
    "ReduceOnPlateauLR_rel_less_cooldown_eps": case(
        [dict(type="ReduceOnPlateauLR", monitor="loss", factor=0.1, patience=1, cooldown=2, eps=0.05)],
        loop=EPOCHS,
        monitor="loss",
        metrics=FALLING,
    ),
}


def build_optimizer(spec: dict) -> OptimWrapper:
    spec = copy.deepcopy(spec)
    cls = getattr(torch.optim, spec.pop("type"))
    groups = [dict(params=[torch.nn.Parameter(torch.zeros(1))], **g) for g in spec.pop("groups")]
    return OptimWrapper(cls(groups, **spec))


def values(optimizer: torch.optim.Optimizer, names: list[str]) -> dict[str, list[float]]:
    out = {}
    for name in names:
        if name == "momentum" and "betas" in optimizer.defaults:
            out[name] = [float(g["betas"][0]) for g in optimizer.param_groups]
        else:
            out[name] = [float(g[name]) for g in optimizer.param_groups]
    return out


def run(spec: dict) -> dict[str, list]:
    loop = spec["loop"]
    wrapper = build_optimizer(spec["optimizer"])
    loop_class = EpochBasedTrainLoop if loop["by_epoch"] else IterBasedTrainLoop
    max_epochs = loop.get("max_epochs", 1)
    max_iters = loop.get("max_iters", max_epochs * loop["epoch_length"])
    fake_runner = SimpleNamespace(
        _train_loop=object.__new__(loop_class),
        max_epochs=max_epochs,
        max_iters=max_iters,
        train_dataloader=range(loop["epoch_length"]),
        logger=logging.getLogger("record"),
    )
    schedulers = Runner._build_param_scheduler(fake_runner, copy.deepcopy(spec["param_scheduler"]), wrapper)
    hook, runner = ParamSchedulerHook(), SimpleNamespace(param_schedulers=schedulers)
    metrics = iter(spec["metrics"])
    recorded = {name: [] for name in spec["record"]}

    def train_iter(i: int) -> None:
        for name, vals in values(wrapper.optimizer, spec["record"]).items():
            recorded[name].append(vals)
        wrapper.optimizer.step()
        hook.after_train_iter(runner, i)

    def validate(done: int, total: int) -> None:
        if spec["monitor"] and done >= 1 and (done % loop["val_interval"] == 0 or done == total):
            hook.after_val_epoch(runner, {spec["monitor"]: next(metrics)})

    if loop["by_epoch"]:
        for epoch in range(max_epochs):
            for i in range(loop["epoch_length"]):
                train_iter(epoch * loop["epoch_length"] + i)
            hook.after_train_epoch(runner)
            validate(epoch + 1, max_epochs)
    else:
        for i in range(max_iters):
            train_iter(i)
            validate(i + 1, max_iters)
    return recorded


def main(out: Path) -> None:
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    cases = {name: dict(spec, values=run(spec)) for name, spec in CASES.items()}
    record = dict(mmengine=mmengine.__version__, torch=torch.__version__.split("+")[0], cases=cases)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(json.dumps(record, indent=0).encode(), mtime=0))
    print(f"{len(cases)} cases -> {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
