"""Record MMSegmentation 1.2.2's PIDNet and DDRNet families: keys, numeric fixtures and losses, init statistics.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_pid_ddr.py tests/records/zoo

Writes ``pid_ddr_keys.json.gz`` (backbone ``init_cfg=None``, meta device), ``pid_ddr_fixtures.json.gz`` + ``.pt``
and ``pid_ddr_init_stats.json.gz``. Fixture weights and inputs are rounded to float16 (stored so, exactly);
outputs are float32: eval, then training mode (batch statistics), then the heads' ``loss_by_feat`` on two
64x64 label maps and the edge maps MMSegmentation's ``GenerateEdge(edge_width=4)`` makes of them. Seeded:
running it twice writes identical bytes.
"""

from __future__ import annotations

import copy

import torch
from _zoo import (
    build,
    config_names,
    flat_state,
    init_stats,
    key_record,
    keys_of,
    parse_out_dir,
    randomize,
    seeded,
    setup,
    write_parts,
)
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

RECORDER = "tests/records/recorders/record_zoo_pid_ddr.py"
BN = dict(type="BN", requires_grad=True)
WEIGHTS = [0.8, 1.0, 1.1, 0.9, 1.2]


def ohem(weight: float) -> dict:
    return dict(type="OhemCrossEntropy", thres=0.7, min_kept=2000, class_weight=WEIGHTS, loss_weight=weight)


HEAD = dict(num_classes=5, norm_cfg=BN, dropout_ratio=0.0, in_channels=8, channels=6)
IMAGE = [[2, 3, 64, 128]]
CASES = {
    "pidnet_s": ("PIDNet", dict(channels=2, ppm_channels=4, num_stem_blocks=2, num_branch_blocks=3, norm_cfg=BN)),
    "pidnet_l": (
        "PIDNet",
        dict(channels=2, ppm_channels=4, num_stem_blocks=3, num_branch_blocks=4, align_corners=True, norm_cfg=BN),
    ),
    "ddrnet": ("DDRNet", dict(channels=2, ppm_channels=4, norm_cfg=BN)),
    "pid_head": (
        "PIDHead",
        dict(
            HEAD,
            align_corners=True,
            loss_decode=[
                dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=0.4),
                ohem(1.0),
                dict(type="BoundaryLoss", loss_weight=20.0),
                ohem(1.0),
            ],
        ),
    ),
    "ddr_head": ("DDRHead", dict(HEAD, loss_decode=[ohem(1.0), ohem(0.4)])),
}
HEAD_INPUTS = {"pid_head": [[2, 4, 8, 8], [2, 8, 8, 8], [2, 4, 8, 8]], "ddr_head": [[2, 4, 8, 8], [2, 8, 8, 8]]}
INIT_CONFIGS = (
    "pidnet/pidnet-s_2xb6-120k_1024x1024-cityscapes",
    "ddrnet/ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024",
)


def label_maps(gen: torch.Generator) -> list[torch.Tensor]:
    """Two 64x64 maps: discs of classes 1-4 on class 0, a band of 255 at the right, a 255 corner at top left."""
    ys, xs = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    labels = []
    for _ in range(2):
        label = torch.zeros(64, 64, dtype=torch.uint8)
        for cls in range(1, 5):
            cy, cx = (int(v) for v in torch.randint(8, 56, (2,), generator=gen))
            radius = int(torch.randint(5, 13, (1,), generator=gen))
            label[(ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2] = cls
        label[:, 61:] = 255
        label[ys + xs < 9] = 255
        labels.append(label)
    return labels


def edge_maps(labels: list[torch.Tensor]) -> list[torch.Tensor]:
    edge = TRANSFORMS.build(dict(type="GenerateEdge", edge_width=4))
    out = []
    for label in labels:
        result = edge({"img_shape": tuple(label.shape), "gt_seg_map": label.numpy()})
        out.append(torch.from_numpy(result["gt_edge_map"]).to(torch.uint8))
    return out


def samples(labels: list[torch.Tensor], edges: list[torch.Tensor]) -> list[SegDataSample]:
    out = []
    for label, edge in zip(labels, edges, strict=True):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None].long())
        sample.gt_edge_map = PixelData(data=edge[None].long())
        out.append(sample)
    return out


def half(t: torch.Tensor) -> torch.Tensor:
    return t.half().float()


def fixtures(tensors: dict) -> dict:
    gen = torch.Generator().manual_seed(100)
    labels = label_maps(gen)
    edges = edge_maps(labels)
    for i, (label, edge) in enumerate(zip(labels, edges, strict=True)):
        tensors[f"batch/label/{i}"], tensors[f"batch/edge/{i}"] = label, edge
    tensors["image/in/0"] = seeded(IMAGE[0], gen).half()
    cases = {}
    for seed, (name, (type_, kwargs)) in enumerate(CASES.items()):
        gen = torch.Generator().manual_seed(seed)
        module = randomize(build(dict(type=type_, **copy.deepcopy(kwargs)), "cpu"), gen)
        if name == "pid_head":  # boundary-confident pixels, so loss_sem_bd has pixels to take
            torch.nn.init.constant_(module.d_cls_seg.bias, 1.0)
        with torch.no_grad():
            for value in module.state_dict().values():
                if value.is_floating_point():
                    value.copy_(half(value))
        head = name in HEAD_INPUTS
        source, shapes = (name, HEAD_INPUTS[name]) if head else ("image", IMAGE)
        if head:
            for i, shape in enumerate(shapes):
                tensors[f"{name}/in/{i}"] = seeded(shape, gen).half()
        inputs = [tensors[f"{source}/in/{i}"].float() for i in range(len(shapes))]
        tensors[f"{name}/state"] = flat_state(module).half()
        with torch.no_grad():
            evaluated = module.eval()(inputs[1] if head else inputs[0])
            trained = module.train()(inputs if head else inputs[0])
            losses = module.loss_by_feat(trained, samples(labels, edges)) if head else None
        tensors[f"{name}/eval/0"] = evaluated
        for i, o in enumerate(trained):
            tensors[f"{name}/train/{i}"] = o
        cases[name] = dict(
            type=type_,
            kwargs=kwargs,
            inputs=source,
            input_shapes=shapes,
            keys=keys_of(module),
            eval_shape=list(evaluated.shape),
            train_shapes=[list(o.shape) for o in trained],
        )
        if losses is not None:
            cases[name]["losses"] = {k: float(v) for k, v in losses.items()}
    return cases


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    write_parts(
        out,
        parts,
        "pid_ddr",
        RECORDER,
        keys=lambda: key_record(config_names("pidnet", "ddrnet"), backbone_init_none=True),
        fixtures=fixtures,
        init=lambda: init_stats(INIT_CONFIGS, backbone_init_none=True),
    )


if __name__ == "__main__":
    main()
