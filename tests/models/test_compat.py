"""MMSegmentation compatibility: parameter names and shapes, checkpoint loading, numerical parity."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from seglab import Config, build_model, load_checkpoint
from seglab.errors import CheckpointError
from seglab.fileio.checkpoint import read_checkpoint, release_url, safe_load

from ..conftest import REPO


def reference_keys(path: Path) -> dict[str, tuple]:
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines()[1:]]
    return {key: tuple(eval(shape)) for key, shape, _ in rows}  # shapes are written as Python tuples


@pytest.mark.parametrize(
    "config,keys",
    [
        (
            "configs/deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py",
            "deeplabv3plus_r50-d8_cityscapes_keys.tsv",
        ),
        ("configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py", "deeplabv3plus_r50-d8_tutorial_keys.tsv"),
    ],
)
def test_state_dict_keys_and_shapes_match_mmsegmentation(reference, config, keys):
    model = build_model(Config.fromfile(REPO / config).model, load_pretrained=False)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == reference_keys(reference / keys)


def test_mmengine_checkpoint_loads_fully_and_reproduces_logits(reference):
    cfg = Config.fromfile(reference / "tiny_dlv3p_config_resolved.py")
    model = build_model(cfg.model, load_pretrained=False).eval()
    report = load_checkpoint(model, reference / "tiny_dlv3p_mmseg_iter_4.pth")
    assert report.missing == [] and report.unexpected == [] and report.skipped == []
    parity = torch.load(reference / "tiny_dlv3p_parity.pt", weights_only=True)

    def close(ours: torch.Tensor, ref: torch.Tensor) -> None:
        tol = 1e-4 * max(1.0, ref.abs().max().item())
        assert (ours - ref).abs().max().item() <= tol

    with torch.no_grad():
        feats = model.backbone(parity["input"])
        for ours, ref in zip(feats, parity["backbone_feats"]):
            close(ours, ref)
        close(model.decode_head(feats), parity["decode_head_out"])
        close(model.auxiliary_head(feats), parity["aux_head_out"])
        close(model.encode_decode(parity["input"]), parity["seg_logits"])


def test_mmengine_checkpoint_meta_is_readable_without_mmengine(reference):
    ckpt = read_checkpoint(reference / "tiny_dlv3p_mmseg_iter_4.pth")
    assert {"meta", "state_dict", "optimizer"} <= set(ckpt)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(reference / "tiny_dlv3p_mmseg_iter_4.pth", weights_only=True)


def test_19_class_checkpoint_into_2_class_model_skips_only_conv_seg(reference, tmp_path):
    city = build_model(
        Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py").model,
        load_pretrained=False,
    )
    path = tmp_path / "city.pth"
    torch.save({"meta": {}, "state_dict": {f"module.{k}": v for k, v in city.state_dict().items()}}, path)
    tutorial = build_model(
        Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py").model, load_pretrained=False
    )
    report = load_checkpoint(tutorial, path)
    assert sorted(k for k, _, _ in report.skipped) == sorted(
        [
            "decode_head.conv_seg.weight",
            "decode_head.conv_seg.bias",
            "auxiliary_head.conv_seg.weight",
            "auxiliary_head.conv_seg.bias",
        ]
    )
    assert report.missing == [] and report.unexpected == []
    assert report.loaded == len(city.state_dict()) - 4
    assert torch.equal(tutorial.state_dict()["backbone.stem.0.weight"], city.state_dict()["backbone.stem.0.weight"])


class RunsCommand:
    """Unpickling this object normally would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_loading_never_executes_code_from_the_file(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"meta": {"payload": RunsCommand(marker)}, "state_dict": {"w": torch.ones(2)}}, path)
    obj = safe_load(path)
    assert not marker.exists()
    assert torch.equal(obj["state_dict"]["w"], torch.ones(2))


def test_missing_checkpoint_names_the_published_url(tmp_path):
    name = "deeplabv3plus_r50-d8_512x1024_40k_cityscapes_20200605_094610-d222ffcd.pth"
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(torch.nn.Linear(1, 1), tmp_path / name)
    assert (
        "https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/"
        "deeplabv3plus_r50-d8_512x1024_40k_cityscapes/" + name in str(err.value)
    )
    assert release_url("my_weights.pth") is None


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "t.pth"
    torch.save({"state_dict": {"w": torch.ones(1000)}}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="cannot be read"):
        safe_load(path)


def test_offline_pretrained_backbone_fails_with_cache_path_and_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the Hub is tried before the original URL: keep it off the network
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr("seglab.fileio.download._transfer", offline)  # every download goes through it
    cfg = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py")
    with pytest.raises(CheckpointError) as err:
        build_model(cfg.model)
    message = str(err.value)
    assert "resnet18_v1c-b5776b93.pth" in message and str(tmp_path / "hub" / "checkpoints") in message
    assert "model.pretrained=None" in message


def test_pretrained_backbone_loads_from_the_hub_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cfg = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py")
    donor = build_model(cfg.model, load_pretrained=False).backbone
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    import hashlib  # a cached file must be the one its name's SHA-256 prefix names: publish the donor's

    from seglab.fileio.sources import OPEN_MMLAB_URLS, THIRD_PARTY, ensure_loaded

    ensure_loaded()

    torch.save({"state_dict": donor.state_dict()}, cache / "donor.pth")
    name = f"resnet18_v1c-{hashlib.sha256((cache / 'donor.pth').read_bytes()).hexdigest()[:8]}.pth"
    (cache / "donor.pth").rename(cache / name)
    monkeypatch.setitem(OPEN_MMLAB_URLS, "resnet18_v1c", f"{THIRD_PARTY}/{name}")
    model = build_model(cfg.model)
    assert torch.equal(model.backbone.state_dict()["stem.0.weight"], donor.state_dict()["stem.0.weight"])
