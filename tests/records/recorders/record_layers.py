"""Record MMCV 2.1.0's and MMSegmentation 1.2.2's shared blocks (``tests/records/layers/``).

Run with the reference environment's Python:
    $HOME/mmref/bin/python tests/records/recorders/record_layers.py tests/records/layers

Writes ``keys.json`` (per case: block type, constructor arguments, call signature, ``state_dict`` keys and
shapes, non-tensor outputs; the 13 ``build_norm_layer`` results; the 19 activation configs) and
``conv_module.pt``, ``transformer.pt``, ``ppm.pt`` (per case ``<case>/state/<key>``, ``<case>/args/<i>``,
``<case>/kwargs/<name>``, ``<case>/out/<i>``) and ``activations.pt`` (one input, each activation's output).
Weights and statistics get seeded random values at a realistic scale (``_zoo.randomize``; LayerScale in
0.05-0.3); the spectral-norm case runs ten training-mode forwards first so its power iteration settles. Inputs
are stored as they were before the forward. Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import torch
from _zoo import randomize, setup, uniform, write_tensors
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule, build_activation_layer, build_norm_layer
from mmcv.cnn.bricks.transformer import FFN, MultiheadAttention
from mmseg.models.decode_heads.psp_head import PPM
from mmseg.models.utils.embed import PatchEmbed, PatchMerging
from torch import nn

BLOCKS = {c.__name__: c for c in (ConvModule, DepthwiseSeparableConvModule, MultiheadAttention, FFN, PatchEmbed)}
BLOCKS |= {"PatchMerging": PatchMerging, "PPM": PPM}
BN = dict(type="BN")
IMG = (1, 4, 7, 8)


def case(family, block, kwargs, args, tensor_kwargs=None, literal_kwargs=None, holder=None, literal_outputs=()):
    """A case: ``args`` and ``tensor_kwargs`` are shapes (or ``"mask"`` + shape for a bool padding mask)."""
    return dict(
        family=family,
        block=block,
        kwargs=kwargs,
        args=args,
        tensor_kwargs=tensor_kwargs or {},
        literal_kwargs=literal_kwargs or {},
        holder=holder,
        literal_outputs=literal_outputs,
    )


def conv(kwargs, shape=IMG, block="ConvModule"):
    return case("conv_module", block, dict(in_channels=4, out_channels=6, kernel_size=3) | kwargs, [shape])


CASES = {
    "conv_bn_relu": conv(dict(padding=1, norm_cfg=BN)),
    "norm_conv_act": conv(dict(stride=2, padding=1, norm_cfg=BN, order=("norm", "conv", "act"))),
    "act_conv_gn_leaky": conv(
        dict(
            padding=2,
            dilation=2,
            norm_cfg=dict(type="GN", num_groups=3),
            act_cfg=dict(type="LeakyReLU", negative_slope=0.2),
            order=("act", "conv", "norm"),
        )
    ),
    "reflect_in_hswish": conv(
        dict(padding=1, padding_mode="reflect", norm_cfg=dict(type="IN", affine=True), act_cfg=dict(type="HSwish"))
    ),
    "replicate_ln_hsigmoid": conv(
        dict(
            padding=1,
            padding_mode="replicate",
            norm_cfg=dict(type="LN", eps=1e-6),
            act_cfg=dict(type="HSigmoid", bias=1.0, divisor=2.0),
        ),
        (1, 4, 5, 6),
    ),
    "circular_prelu_groups": conv(
        dict(padding=1, groups=2, padding_mode="circular", act_cfg=dict(type="PReLU", num_parameters=6))
    ),
    "spectral_norm_elu": conv(dict(padding=1, with_spectral_norm=True, act_cfg=dict(type="ELU"))),
    "efficient_conv_bn_eval": conv(dict(padding=1, norm_cfg=BN, efficient_conv_bn_eval=True)),
    "depthwise_separable": conv(
        dict(out_channels=8, padding=1, norm_cfg=BN, dw_act_cfg=None, pw_act_cfg=dict(type="ReLU6")),
        block="DepthwiseSeparableConvModule",
    ),
    "mha_batch_first": case(
        "transformer",
        "MultiheadAttention",
        dict(embed_dims=16, num_heads=4, batch_first=True),
        [(2, 5, 16), (2, 7, 16), (2, 7, 16)],
        dict(key_padding_mask=("mask", 2, 7), key_pos=(2, 7, 16), query_pos=(2, 5, 16)),
    ),
    "mha_seq_first": case(
        "transformer",
        "MultiheadAttention",
        dict(embed_dims=8, num_heads=2, dropout_layer=dict(type="DropPath", drop_prob=0.1)),
        [(6, 2, 8)],
        dict(identity=(6, 2, 8), query_pos=(6, 2, 8)),
    ),
    "mha_kdim_vdim": case(
        "transformer",
        "MultiheadAttention",
        dict(embed_dims=8, num_heads=2, batch_first=True, kdim=4, vdim=6, dropout_layer=None),
        [(2, 5, 8), (2, 7, 4), (2, 7, 6)],
    ),
    "ffn_default": case("transformer", "FFN", dict(embed_dims=8, feedforward_channels=16), [(1, 5, 8)]),
    "ffn_layer_scale": case(
        "transformer",
        "FFN",
        dict(
            embed_dims=8,
            feedforward_channels=12,
            num_fcs=3,
            act_cfg=dict(type="GELU"),
            layer_scale_init_value=0.1,
            dropout_layer=dict(type="DropPath", drop_prob=0.2),
        ),
        [(1, 5, 8)],
        dict(identity=(1, 5, 8)),
    ),
    "ffn_no_identity": case(
        "transformer",
        "FFN",
        dict(embed_dims=8, feedforward_channels=16, add_identity=False, act_cfg=dict(type="HSwish")),
        [(1, 5, 8)],
    ),
    "patch_embed_corner": case(
        "transformer",
        "PatchEmbed",
        dict(in_channels=3, embed_dims=8, kernel_size=4, norm_cfg=dict(type="LN"), input_size=(13, 18)),
        [(1, 3, 13, 18)],
        literal_outputs=(1,),
    ),
    "patch_embed_same": case(
        "transformer",
        "PatchEmbed",
        dict(in_channels=3, embed_dims=8, kernel_size=7, stride=4, padding="same", input_size=(13, 18)),
        [(1, 3, 13, 18)],
        literal_outputs=(1,),
    ),
    "patch_embed_int_padding": case(
        "transformer",
        "PatchEmbed",
        dict(in_channels=3, embed_dims=8, kernel_size=7, stride=4, padding=3, norm_cfg=dict(type="LN", eps=1e-6)),
        [(1, 3, 12, 16)],
        literal_outputs=(1,),
    ),
    "patch_merging": case(
        "transformer",
        "PatchMerging",
        dict(in_channels=4, out_channels=8),
        [(1, 35, 4)],
        literal_kwargs=dict(input_size=(5, 7)),
        literal_outputs=(1,),
    ),
    "patch_merging_same": case(
        "transformer",
        "PatchMerging",
        dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding="same", bias=True, norm_cfg=None),
        [(1, 35, 4)],
        literal_kwargs=dict(input_size=(5, 7)),
        literal_outputs=(1,),
    ),
    "ppm_psphead": case(
        "ppm",
        "PPM",
        dict(
            pool_scales=(1, 2, 3, 6),
            in_channels=8,
            channels=4,
            conv_cfg=None,
            norm_cfg=BN,
            act_cfg=dict(type="ReLU"),
            align_corners=False,
        ),
        [(1, 8, 9, 11)],
        holder="psp_modules",
    ),
    "ppm_align_corners": case(
        "ppm",
        "PPM",
        dict(
            pool_scales=(1, 3),
            in_channels=8,
            channels=4,
            conv_cfg=None,
            norm_cfg=None,
            act_cfg=dict(type="ReLU"),
            align_corners=True,
        ),
        [(1, 8, 7, 6)],
    ),
}
NORMS = [
    (dict(type="BN"), ""),
    (dict(type="BN1d"), ""),
    (dict(type="BN2d", momentum=0.01, eps=0.001), 1),
    (dict(type="BN3d"), ""),
    (dict(type="SyncBN", requires_grad=False), ""),
    (dict(type="GN", num_groups=4), ""),
    (dict(type="GN", num_groups=2, affine=False), "_a"),
    (dict(type="LN", eps=1e-6), 2),
    (dict(type="LN", elementwise_affine=False), ""),
    (dict(type="IN"), ""),
    (dict(type="IN1d", affine=True), 3),
    (dict(type="IN2d", track_running_stats=True), ""),
    (dict(type="IN3d"), ""),
]
ACTIVATIONS = [
    dict(type="ReLU"),
    dict(type="ReLU6"),
    dict(type="LeakyReLU", negative_slope=0.2),
    dict(type="PReLU", init=0.3),
    dict(type="RReLU", lower=0.1, upper=0.3),
    dict(type="ELU", alpha=0.7),
    dict(type="GELU"),
    dict(type="GELU", approximate="tanh"),
    dict(type="Sigmoid"),
    dict(type="Tanh"),
    dict(type="HSwish"),
    dict(type="HSigmoid"),
    dict(type="HSigmoid", bias=1.0, divisor=2.0),
    dict(type="HSigmoid", bias=0.5, divisor=4.0, min_value=-0.2, max_value=0.7),
    dict(type="Swish"),
    dict(type="SiLU"),
    dict(type="Clamp"),
    dict(type="Clamp", min=-0.5, max=2.0),
    dict(type="Clip", min=0.0, max=3.0),
]


def special_values(mod_name, mod, name, t, gen):
    """LayerScale in 0.05-0.3; spectral norm's power-iteration vectors left to the warm-up forwards."""
    if type(mod).__name__ == "LayerScale":
        return uniform(t.shape, 0.05, 0.3, gen)
    if name in ("weight_u", "weight_v"):
        return t.clone()
    return None


def as_json(value):
    """Tuples as lists, as JSON writes them."""
    return json.loads(json.dumps(value))


def run_case(name: str, spec: dict, seed: int, tensors: dict) -> dict:
    gen = torch.Generator().manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        block = BLOCKS[spec["block"]](**spec["kwargs"])
    randomize(block, gen, special_values)
    if spec["kwargs"].get("with_spectral_norm"):
        block.train()
        with torch.no_grad():
            for _ in range(10):
                block(torch.randn(IMG, generator=gen))
    block.eval()
    args = [torch.randn(shape, generator=gen) for shape in spec["args"]]
    kwargs = {}
    for key, shape in spec["tensor_kwargs"].items():
        if shape[0] == "mask":
            mask = torch.rand(shape[1:], generator=gen) < 0.3
            mask[:, 0] = False  # every query keeps at least one key
            kwargs[key] = mask
        else:
            kwargs[key] = torch.randn(shape, generator=gen)
    for key, value in block.state_dict().items():
        tensors[f"{name}/state/{key}"] = value
    tensors.update({f"{name}/args/{i}": a.clone() for i, a in enumerate(args)})
    tensors.update({f"{name}/kwargs/{k}": v for k, v in kwargs.items()})
    with torch.no_grad():
        out = block(*args, **kwargs, **spec["literal_kwargs"])
    outs = list(out) if isinstance(out, list | tuple) else [out]
    literal = {}
    for i, o in enumerate(outs):
        if i in spec["literal_outputs"]:
            literal[str(i)] = list(o)
        else:
            tensors[f"{name}/out/{i}"] = o
    holder = block
    if spec["holder"]:
        holder = nn.Module()
        setattr(holder, spec["holder"], block)
    entry = dict(
        family=spec["family"],
        block=spec["block"],
        kwargs=as_json(spec["kwargs"]),
        num_args=len(args),
        tensor_kwargs=sorted(kwargs),
        literal_kwargs=as_json(spec["literal_kwargs"]),
        num_outputs=len(outs),
        literal_outputs=literal,
        keys=[[k, list(v.shape)] for k, v in holder.state_dict().items()],
    )
    if hasattr(block, "init_out_size") and block.init_out_size is not None:
        entry["init_out_size"] = list(block.init_out_size)
    if spec["holder"]:
        entry["holder"] = spec["holder"]
    return entry


def norm_facts(cfg: dict, postfix) -> dict:
    name, layer = build_norm_layer(dict(cfg), 8, postfix=postfix)
    return dict(
        cfg=cfg,
        postfix=postfix,
        name=name,
        **{"class": type(layer).__name__},
        keys=[[k, list(v.shape)] for k, v in layer.state_dict().items()],
        eps=layer.eps,
        momentum=getattr(layer, "momentum", None),
        affine=getattr(layer, "affine", getattr(layer, "elementwise_affine", None)),
        requires_grad=[p.requires_grad for p in layer.parameters()],
    )


def main(out: Path) -> None:
    setup()
    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    families: dict[str, dict] = {"conv_module": {}, "transformer": {}, "ppm": {}}
    cases = {
        name: run_case(name, spec, seed, families[spec["family"]]) for seed, (name, spec) in enumerate(CASES.items())
    }
    gen = torch.Generator().manual_seed(len(CASES))
    x = 4.0 * torch.randn((1, 3, 4, 5), generator=gen)
    activations = {"input": x}
    for i, cfg in enumerate(ACTIVATIONS):
        layer = build_activation_layer(dict(cfg)).eval()
        with torch.no_grad():
            activations[f"{i:02d}"] = layer(x.clone())
    norms = {f"{i:02d}_{cfg['type']}": norm_facts(cfg, postfix) for i, (cfg, postfix) in enumerate(NORMS)}
    record = dict(
        cases=cases, norms=norms, activations=ACTIVATIONS, recorder="tests/records/recorders/record_layers.py"
    )
    (out / "keys.json").write_text(json.dumps(record, indent=1) + "\n")
    for family, tensors in families.items():
        write_tensors(out / f"{family}.pt", tensors)
    write_tensors(out / "activations.pt", activations)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
