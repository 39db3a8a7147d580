"""Shared pieces of the Hub tests: an offline Hub cache to plant files in, the timm model builders, and the
torchvision stand-in timm needs (tests/torchvision_stand_in.py)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from seglab.fileio.hub import HubFile

from ..torchvision_stand_in import install_torchvision_stand_in  # noqa: F401 (the timm tests import it from here)


def plant_hub_file(cache: Path, hub_file: HubFile, data: bytes) -> None:
    """Put ``data`` where huggingface_hub's cache keeps ``hub_file`` (a snapshot folder, and ``refs/main``
    naming it when the file is unpinned), as a finished download leaves it."""
    repo_dir = cache / f"models--{hub_file.repo.replace('/', '--')}"
    commit = hub_file.revision or "0" * 40
    if hub_file.revision is None:
        (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / "main").write_text(commit)
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / hub_file.filename).write_bytes(data)


@pytest.fixture
def load_from_hub(tmp_path, monkeypatch):
    """``load(backbone, source_name, timm_state) -> LoadReport``: ``timm_state`` saved as the Hub serves it
    (safetensors) in an offline Hub cache, then loaded the way training loads pre-trained weights
    (``init_pretrained``: fetch, read, the source's key map, ``prefix``, ``adapt_pretrained``)."""
    from safetensors.torch import save

    from seglab.fileio.sources import known
    from seglab.models import builder

    cache = tmp_path / "hf_hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("SEGLAB_OPENMMLAB_MIRROR", raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    reports = []

    def recording_apply(*args, **kwargs):
        reports.append(apply_checkpoint(*args, **kwargs))
        return reports[-1]

    apply_checkpoint = builder.apply_checkpoint
    monkeypatch.setattr(builder, "apply_checkpoint", recording_apply)

    def load(backbone: torch.nn.Module, name: str, timm_state: dict[str, torch.Tensor]):
        source = known(name)
        assert source is not None and source.hub_usable, f"{name} has no usable Hub file"
        contiguous = {k: v.contiguous() for k, v in timm_state.items()}
        if source.hub.filename.endswith(".bin"):  # a pytorch_model.bin, as such a repo serves it
            buffer = io.BytesIO()
            torch.save(contiguous, buffer)
            data = buffer.getvalue()
        else:
            data = save(contiguous)
        plant_hub_file(cache, source.hub, data)
        reports.clear()
        builder.init_pretrained(backbone)
        assert len(reports) == 1, "the backbone's init_cfg names no Pretrained checkpoint"
        return reports[0]

    return load


def timm_model(name: str | Callable[..., torch.nn.Module], **kwargs) -> torch.nn.Module:
    """timm's model ``name`` (or built by a timm class), random weights, ``kwargs`` shrinking it; norm statistics
    and affine parameters and layer scales random too, so a tensor loaded into the wrong place shows in the
    features (timm's layer scales start at 1e-5, which would hide a whole block)."""
    import timm

    torch.manual_seed(0)
    model = name(**kwargs) if callable(name) else timm.create_model(name, pretrained=False, **kwargs)
    with torch.no_grad():
        for param_name, param in model.named_parameters():
            if param_name.endswith(("gamma", "gamma_1", "gamma_2", ".scale")):
                param.uniform_(0.5, 1.5)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
            elif isinstance(module, torch.nn.LayerNorm | torch.nn.GroupNorm) and module.weight is not None:
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.eval()


def assert_close(got: torch.Tensor, want: torch.Tensor) -> None:
    """Equal within 1e-4 x the largest magnitude of ``want`` (the parity tolerance of every fixture)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    assert torch.allclose(got, want, atol=1e-4 * want.abs().max().item()), (got - want).abs().max().item()
