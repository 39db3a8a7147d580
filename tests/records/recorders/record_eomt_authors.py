"""Record the EoMT authors' own model (github.com/tue-mps/eomt, ``models/eomt.py`` + ``models/vit.py``) on
random weights: its checkpoint state dict and its class/mask logits at the pre-training input size and at a
larger one, for ``tests/models/test_eomt_authors.py``.

Usage (from the repository root, with timm and transformers installed):

    git -C /work/.mirror/tue-mps+eomt/repo archive HEAD models | tar -x -C /tmp/eomt_src
    python tests/records/recorders/record_eomt_authors.py /tmp/eomt_src tests/records/authors/eomt_authors.pt

Two cases, each a tiny EoMT (width 16, 3 blocks, 2 heads, patch 16, 4 registers, 3 queries in the last 2
blocks, 3 classes): ``dinov2``, the authors' ``ViT`` around timm's ``vit_small_patch14_reg4_dinov2`` with the
sizes shrunk (``timm.create_model`` is called with them added; no download), and ``dinov3``, their ``ViT``
around a transformers ``DINOv3ViTModel`` built from a tiny config instead of ``AutoModel.from_pretrained``
(transformers 5 holds the blocks under ``model.layer``; the recorder moves them to ``layer``, where transformers
4.56.1, the version the authors pin, holds them). Weights are random at a realistic scale and rounded to
float16 values (stored as float16, exact in float32). Each model runs on one image at 48x48 (its
``img_size``) and at 64x80 (H x W): their ``EoMT`` reads the patch grid from ``img_size``, so the 64x80 run is
a second model built with ``img_size=(64, 80)`` that loads the same state dict, the DINOv2 position table
resampled to the 4x5 grid by timm's ``resample_abs_pos_embed`` (bicubic, antialiased: what timm does to a
checkpoint of another grid). Both sizes run with ``attn_mask_probs`` 1 (masked attention, every prediction) and 0
(annealed away: the final one).

The file (``torch.load(..., weights_only=True)``) holds ``image``, one uint8 64x80 image (the 48x48 input is
its top-left corner; the authors' model reads pixels / 255), per case ``<case>/keys`` ([key, shape] of the checkpoint in its order) and ``<case>/state``
(those tensors flattened and concatenated, float16), and ``<case>/<H>x<W>/<masked|annealed>/<mask|class>``
(float32, the predictions stacked: (predictions, 1, queries, 4H/16, 4W/16) and (predictions, 1, queries,
classes + 1)). Running the script twice writes identical bytes.
"""

from __future__ import annotations

import argparse
import functools
import io
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[3]
SIZES = ((48, 48), (64, 80))  # (height, width): the pre-training size, then a larger, non-square one
WIDTH, DEPTH, HEADS, QUERIES, BLOCKS, CLASSES = 16, 3, 2, 3, 2, 3


def import_authors(src: Path):
    """The authors' ``models`` package from a checkout (timm imported first, with the tests' torchvision
    stand-in where torchvision is missing)."""
    sys.path.insert(0, str(REPO))
    from tests.torchvision_stand_in import install_torchvision_stand_in

    install_torchvision_stand_in()
    sys.path.insert(0, str(src))
    from models import eomt, vit

    return eomt, vit


def tiny_dinov3(name: str, **kwargs):
    """A random tiny DINOv3ViTModel in the module layout of transformers 4.56.1 (``layer`` on the model)."""
    from transformers import DINOv3ViTConfig, DINOv3ViTModel

    config = DINOv3ViTConfig(
        hidden_size=WIDTH,
        num_hidden_layers=DEPTH,
        num_attention_heads=HEADS,
        intermediate_size=4 * WIDTH,
        patch_size=16,
        num_register_tokens=4,
        image_size=SIZES[0][0],
    )
    model = DINOv3ViTModel(config)
    model.layer = model.model.layer
    del model.model
    return model


def build(eomt, vit, case: str, size: tuple[int, int]) -> torch.nn.Module:
    """The authors' network for ``case`` at ``img_size`` ``size`` (their classes, our sizes)."""
    if case == "dinov2":
        sizes = dict(embed_dim=WIDTH, depth=DEPTH, num_heads=HEADS)
        with patched(vit.timm, "create_model", functools.partial(vit.timm.create_model, **sizes)):
            encoder = vit.ViT(size, 16, "vit_small_patch14_reg4_dinov2", ckpt_path="no download")
    else:
        loader = type("AutoModel", (), {"from_pretrained": staticmethod(tiny_dinov3)})
        with patched(vit, "AutoModel", loader):
            encoder = vit.ViT(size, 16, "facebook/dinov3-vits16-pretrain-lvd1689m")
    return eomt.EoMT(encoder, num_classes=CLASSES, num_q=QUERIES, num_blocks=BLOCKS).eval()


class patched:
    def __init__(self, owner, name, value) -> None:
        self.owner, self.name, self.value = owner, name, value

    def __enter__(self) -> None:
        self.saved = getattr(self.owner, self.name)
        setattr(self.owner, self.name, self.value)

    def __exit__(self, *exc) -> None:
        setattr(self.owner, self.name, self.saved)


def randomise(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Seeded values at a working scale, rounded to float16: weights N(0, 1/fan_in), biases N(0, 0.1), norm
    scales 0.5-1.5, layer scales 0.3-1, tokens N(0, 1), position table N(0, 0.5)."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            shape = param.shape
            if name.endswith(("gamma", "lambda1")):
                value = 0.3 + 0.7 * torch.rand(shape, generator=generator)
            elif "norm" in name and name.endswith("weight"):
                value = 0.5 + torch.rand(shape, generator=generator)
            elif name.endswith("bias"):
                value = 0.1 * torch.randn(shape, generator=generator)
            elif name.endswith(("cls_token", "reg_token", "register_tokens")) or name == "q.weight":
                value = torch.randn(shape, generator=generator)
            elif name.endswith("pos_embed"):
                value = 0.5 * torch.randn(shape, generator=generator)
            else:
                fan_in = max(1, param[0].numel())
                value = torch.randn(shape, generator=generator) / fan_in**0.5
            param.copy_(value.half().float())


def checkpoint(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as the authors' Lightning module saves it: ``network.`` + their criterion's buffer."""
    state = {f"network.{k}": v.clone() for k, v in model.state_dict().items()}
    empty_weight = torch.ones(CLASSES + 1)
    empty_weight[-1] = 0.1
    state["criterion.empty_weight"] = empty_weight
    return state


def at_size(eomt, vit, case: str, state: dict, size: tuple[int, int]) -> torch.nn.Module:
    """A second network built at ``size`` holding ``state`` (DINOv2's position table resampled by timm)."""
    model = build(eomt, vit, case, size)
    own = {k[len("network.") :]: v for k, v in state.items() if k.startswith("network.")}
    key = "encoder.backbone.pos_embed"
    if key in own and own[key].shape != model.state_dict()[key].shape:
        from timm.layers import resample_abs_pos_embed

        grid = (size[0] // 16, size[1] // 16)
        old = int(own[key].shape[1] ** 0.5)
        own[key] = resample_abs_pos_embed(own[key], grid, (old, old), num_prefix_tokens=0)
    model.load_state_dict(own)
    return model


def record(src: Path, out: Path) -> None:
    eomt, vit = import_authors(src)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    result: dict[str, torch.Tensor] = {}
    image = torch.randint(0, 256, (1, 3, *SIZES[1]), generator=generator, dtype=torch.uint8)
    result["image"] = image
    for case in ("dinov2", "dinov3"):
        model = build(eomt, vit, case, SIZES[0])
        randomise(model, generator)
        state = checkpoint(model)
        result[f"{case}/state"] = torch.cat([v.reshape(-1) for v in state.values()]).half()
        result[f"{case}/keys"] = [[key, list(value.shape)] for key, value in state.items()]
        for size in SIZES:
            net = at_size(eomt, vit, case, state, size)
            name = f"{size[0]}x{size[1]}"
            images = image[..., : size[0], : size[1]].float() / 255.0
            for probs in (1.0, 0.0):
                net.attn_mask_probs.fill_(probs)
                with torch.no_grad():
                    masks, classes = net(images)
                where = f"{case}/{name}/{'masked' if probs else 'annealed'}"
                result[f"{where}/mask"] = torch.stack(masks if probs else masks[-1:])
                result[f"{where}/class"] = torch.stack(classes if probs else classes[-1:])
    buffer = io.BytesIO()
    torch.save(result, buffer)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB, {len(result)} entries)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="a checkout of github.com/tue-mps/eomt (holding models/)")
    parser.add_argument("out", type=Path, help="the .pt file to write")
    args = parser.parse_args()
    record(args.src, args.out)


if __name__ == "__main__":
    main()
