"""``--launcher slurm|mpi|pytorch``: each reads its starter's environment as MMEngine's ``init_dist`` does,
two processes started as srun (or mpirun) would start them train as one DDP job, and a launcher whose
variables are missing stops with one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seglab.cli import main
from seglab.dist import first_host, launch_env, warn_unused_launcher
from seglab.engine.lr_scaling import scale_lr
from seglab.engine.settings import collect_notices
from seglab.errors import ConfigError

LAUNCH_VARIABLES = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_NODELIST",
    "SLURM_LOCALID",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
)

# A hook (loaded through custom_imports) that saves each rank's final parameters, so the test can
# compare the ranks; rank 0's checkpoint alone cannot show that rank 1 trained the same weights.
DUMP_PLUGIN = """
import torch
from seglab import dist
from seglab.engine.hooks.base import Hook
from seglab.registry import HOOKS

@HOOKS.register()
class DumpRankParameters(Hook):
    def after_train(self, runner):
        params = {k: v.detach().clone() for k, v in runner.model.named_parameters()}
        torch.save(params, runner.work_dir / f"params_rank{dist.rank()}_of{dist.world_size()}.pt")
"""


@pytest.mark.parametrize(
    "node_list, host",
    [
        ("node[01-03,07],gpu5", "node01"),
        ("gpu5,node[1-2]", "gpu5"),
        ("rack[2-3]-node[07,09-10]", "rack2-node07"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_first_host_of_a_slurm_node_list(node_list, host):
    assert first_host(node_list) == host


def test_slurm_environment_maps_to_torch_variables():
    slurm = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_NODELIST": "node[01-02]", "SLURM_LOCALID": "1"}
    assert launch_env("slurm", slurm) == {
        "RANK": "5",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "node01",
        "MASTER_PORT": "29500",  # MMEngine's default
    }
    no_local = {k: v for k, v in slurm.items() if k != "SLURM_LOCALID"}
    assert launch_env("slurm", no_local, gpus=4)["LOCAL_RANK"] == "1"  # procid % gpus per node
    kept = launch_env("slurm", {**slurm, "MASTER_ADDR": "10.0.0.9", "MASTER_PORT": "1234"})
    assert (kept["MASTER_ADDR"], kept["MASTER_PORT"]) == ("10.0.0.9", "1234")


def test_openmpi_environment_maps_to_torch_variables():
    mpi = {
        "OMPI_COMM_WORLD_RANK": "3",
        "OMPI_COMM_WORLD_SIZE": "4",
        "OMPI_COMM_WORLD_LOCAL_RANK": "1",
        "MASTER_ADDR": "host1",
    }
    env = launch_env("mpi", mpi)
    assert env == {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "host1", "MASTER_PORT": "29500"}
    with pytest.raises(ConfigError, match="MASTER_ADDR"):  # as MMEngine: mpirun does not say where rank 0 is
        launch_env("mpi", {k: v for k, v in mpi.items() if k != "MASTER_ADDR"})


@pytest.mark.parametrize(
    "launcher, missing",
    [
        ("pytorch", "RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT"),
        ("slurm", "SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST"),
        ("mpi", "OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK, MASTER_ADDR"),
    ],
)
def test_launcher_without_its_variables_is_one_line(launcher, missing, tiny_config, monkeypatch, capsys):
    for name in LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert main(["train", str(tiny_config(max_iters=2)), "--launcher", launcher]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"--launcher {launcher}" in err and missing in err


def test_launcher_none_under_srun_says_each_task_trains_alone(seglab_log):
    warn_unused_launcher({"SLURM_NTASKS": "8", "SLURM_PROCID": "3"})
    assert "SLURM_NTASKS=8 but launcher='none'" in seglab_log.text and "--launcher slurm" in seglab_log.text
    seglab_log.clear()
    warn_unused_launcher({"SLURM_NTASKS": "1"})  # one task: nothing to say
    assert not seglab_log.text


def test_auto_scale_lr_scales_every_group_as_mmengine(seglab_log):
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.SGD([{"params": params[:1], "lr": 0.01}, {"params": params[1:], "lr": 0.001}], lr=0.01)
    assert scale_lr(optimizer, dict(enable=False, base_batch_size=4), 8) == 1.0
    assert scale_lr(optimizer, dict(enable=True, base_batch_size=4), 8) == 2.0  # one process x 8 / 4
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.02, 0.002])
    assert "Scaling the original LR by 2.0" in seglab_log.text
    with pytest.raises(ConfigError, match="auto_scale_lr.base_batch_size=None"):
        scale_lr(optimizer, dict(enable=True), 8)


def test_runner_keys_seglab_does_not_apply_are_named():
    cfg = dict(experiment_name="x", model_wrapper_cfg=dict(type="MMFullyShardedDataParallel"), env_cfg={})
    notices = "\n".join(collect_notices(cfg))
    assert "experiment_name is not applied" in notices and "model_wrapper_cfg is not applied" in notices
    assert not collect_notices(dict(env_cfg=dict(cudnn_benchmark=True), model=dict(data_preprocessor={})))
    loops = dict(val_cfg=dict(type="ValLoop", val_loss=True), test_cfg=dict(fold_bn=False, winograd=False, fold=1))
    assert collect_notices(loops) == [
        "test_cfg ['fold'] not applied: TestLoop knows fold_bn, fp16, type, winograd"  # a misspelt switch is named
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two(config: Path, work_dir: Path, launcher: str, per_rank: dict) -> None:
    """Start ranks 0 and 1 of ``seglab train --launcher LAUNCHER`` with ``per_rank(rank)``'s variables."""
    base = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARIABLES}
    base.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(config.parent), *sys.path]))
    command = [sys.executable, "-m", "seglab", "train", str(config), "--work-dir", str(work_dir)]
    base["MASTER_PORT"] = str(free_port())  # the ranks must agree on it
    logs = [work_dir.parent / f"{launcher}_rank{rank}.txt" for rank in (0, 1)]
    procs = []
    for rank, log in enumerate(logs):
        with log.open("w") as out:  # a file, not a pipe: a full pipe would block a rank nobody reads
            env = {**base, **per_rank(rank)}
            procs.append(subprocess.Popen([*command, "--launcher", launcher], env=env, stdout=out, stderr=out))
    for p, log in zip(procs, logs):
        assert p.wait(timeout=240) == 0, log.read_text()[-3000:]


def final_parameters(work_dir: Path) -> list[dict[str, torch.Tensor]]:
    return [torch.load(work_dir / f"params_rank{r}_of2.pt") for r in (0, 1)]


def test_slurm_torchrun_and_mpi_launches_train_one_identical_job(tiny_config, tmp_path):
    (tmp_path / "rank_dump_plugin.py").write_text(DUMP_PLUGIN)
    config = tiny_config(
        max_iters=4,
        extra="custom_imports = dict(imports=['rank_dump_plugin'], allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DumpRankParameters')]\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        "auto_scale_lr = dict(enable=True, base_batch_size=32)\n"  # 2 processes x 8 images: half the lr
        "val_dataloader = None\nval_evaluator = None\n",
    )

    def slurm(rank: int) -> dict:
        return dict(SLURM_PROCID=str(rank), SLURM_NTASKS="2", SLURM_NODELIST="localhost", SLURM_LOCALID=str(rank))

    def torchrun(rank: int) -> dict:
        return dict(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1")

    def openmpi(rank: int) -> dict:
        return dict(
            OMPI_COMM_WORLD_RANK=str(rank),
            OMPI_COMM_WORLD_SIZE="2",
            OMPI_COMM_WORLD_LOCAL_RANK=str(rank),
            MASTER_ADDR="127.0.0.1",
        )

    launch_two(config, tmp_path / "slurm", "slurm", slurm)
    launch_two(config, tmp_path / "torchrun", "pytorch", torchrun)
    launch_two(config, tmp_path / "mpi", "mpi", openmpi)

    # one job: one run folder with one log, written once, by rank 0
    runs = [p for p in (tmp_path / "slurm").iterdir() if p.is_dir()]
    assert len(runs) == 1, sorted(p.name for p in (tmp_path / "slurm").iterdir())
    logs = list(runs[0].glob("*.log"))
    assert len(logs) == 1
    log = logs[0].read_text()
    assert "world size 2" in log and log.count("Iter(train) [4/4]") == 1
    assert "current batch size is 16 (2 process(es) x 8). Scaling the original LR by 0.5" in log
    first = json.loads((runs[0] / "vis_data" / "scalars.json").read_text().splitlines()[0])
    assert first["lr"] == pytest.approx(0.003 * 0.5)  # the schedule starts from the scaled lr
    assert (tmp_path / "slurm" / "iter_4.pth").is_file()

    slurm_ranks, torchrun_ranks = final_parameters(tmp_path / "slurm"), final_parameters(tmp_path / "torchrun")
    mpi_ranks = final_parameters(tmp_path / "mpi")
    saved = torch.load(tmp_path / "slurm" / "iter_4.pth", weights_only=True)["state_dict"]
    for name, value in slurm_ranks[0].items():
        assert torch.equal(value, slurm_ranks[1][name]), name  # DDP: both ranks end with the same weights
        torch.testing.assert_close(value, torchrun_ranks[0][name], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(value, mpi_ranks[1][name], rtol=1e-5, atol=1e-6)
        assert torch.equal(value, saved[name])  # the checkpoint holds them
