"""Record MMSegmentation 1.2.2's UNet family: key lists, numeric fixtures and init statistics (``unet_*``).

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_unet.py tests/records/zoo

Writes ``unet_keys.json.gz`` (each config's ``state_dict`` key -> shape list, built on the meta device with
``pretrained=None`` and SyncBN -> BN, identical lists stored once) and ``unet_init_stats.json.gz`` (eight-seed
fresh-init statistics, see ``_zoo.init_rows``), plus ``unet_fixtures.json.gz`` + ``.pt``: five ``UNet`` backbone
cases and three tiny ``EncoderDecoder`` models (UNet + FCN/PSP/ASPP head, logits from ``encode_decode`` at the
input size), with seeded random weights (``_zoo.randomize``), each with its own input ``<case>/in/0``. Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import torch
from _zoo import (
    config_names,
    init_record,
    init_rows,
    key_record,
    module_case,
    parse_out_dir,
    setup,
    write_json,
    write_tensors,
)

RECORDER = "tests/records/recorders/record_zoo_unet.py"
KEY_FOLDERS = ("unet",)
BN = dict(type="BN", requires_grad=True)
UNET = dict(in_channels=3, base_channels=1, num_stages=5, norm_cfg=BN)
SMALL_UNET = dict(
    in_channels=3,
    base_channels=2,
    num_stages=4,
    norm_cfg=BN,
    strides=(1, 1, 1, 1),
    enc_num_convs=(2, 2, 2, 2),
    dec_num_convs=(2, 2, 2),
    downsamples=(True, True, True),
    enc_dilations=(1, 1, 1, 1),
    dec_dilations=(1, 1, 1),
)
HEAD = dict(in_channels=2, in_index=3, channels=4, num_classes=2, norm_cfg=BN, dropout_ratio=0.1)


def backbone(shape: tuple, **kwargs) -> dict:
    return dict(type="UNet", call="backbone", kwargs=kwargs, input_shapes=[list(shape)])


def model(head: dict, **backbone_kwargs) -> dict:
    kwargs = dict(
        data_preprocessor=dict(type="SegDataPreProcessor", mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type="UNet", **SMALL_UNET, **backbone_kwargs),
        decode_head=dict(HEAD, **head),
        test_cfg=dict(mode="whole"),
    )
    return dict(type="EncoderDecoder", call="model", kwargs=kwargs, input_shapes=[[1, 3, 32, 48]])


CASES = {
    "unet_interp": backbone((1, 3, 32, 48), **UNET),
    "unet_deconv": backbone((1, 3, 32, 48), **UNET, upsample_cfg=dict(type="DeconvModule")),
    "unet_deconv_k6_leaky_3_stages": backbone(
        (1, 3, 20, 28),
        in_channels=3,
        base_channels=2,
        num_stages=3,
        norm_cfg=BN,
        strides=(1, 1, 1),
        enc_num_convs=(1, 2, 3),
        dec_num_convs=(3, 1),
        downsamples=(True, True),
        enc_dilations=(1, 1, 1),
        dec_dilations=(1, 2),
        act_cfg=dict(type="LeakyReLU", negative_slope=0.1),
        upsample_cfg=dict(type="DeconvModule", kernel_size=6),
    ),
    "unet_strides_dilations_conv_first": backbone(
        (1, 3, 16, 24),
        **UNET,
        strides=(1, 2, 1, 2, 1),
        downsamples=(False, True, True, False),
        enc_dilations=(1, 2, 1, 2, 1),
        dec_dilations=(2, 1, 1, 2),
        enc_num_convs=(1, 2, 1, 2, 1),
        dec_num_convs=(1, 1, 2, 2),
        upsample_cfg=dict(
            type="InterpConv",
            conv_first=True,
            kernel_size=3,
            padding=1,
            upsample_cfg=dict(scale_factor=2, mode="nearest"),
        ),
    ),
    "unet_no_norm_align_corners": backbone(
        (1, 3, 24, 16),
        **(SMALL_UNET | dict(norm_cfg=None)),
        upsample_cfg=dict(type="InterpConv", upsample_cfg=dict(scale_factor=2, mode="bilinear", align_corners=True)),
    ),
    "unet_fcn": model(dict(type="FCNHead", num_convs=1, concat_input=False)),
    "unet_psp": model(dict(type="PSPHead", pool_scales=(1, 2, 3, 6))),
    "unet_aspp": model(dict(type="ASPPHead", dilations=(1, 12, 24, 36)), upsample_cfg=dict(type="DeconvModule")),
}


def keep_preprocessor(mod_name, mod, name, t, gen):
    """The data preprocessor's mean/std buffers stay as configured."""
    return t.clone() if mod_name.startswith("data_preprocessor") else None


def run(module, inputs):
    """A backbone's outputs, or a whole model's logits at the input size."""
    x = inputs[0]
    if isinstance(module, torch.nn.Module) and hasattr(module, "encode_decode"):
        size = tuple(x.shape[2:])
        return module.encode_decode(x, [dict(pad_shape=size, img_shape=size)])
    return module(x)


INIT_CONFIGS = ("unet/unet-s5-d16_fcn_4xb4-40k_drive-64x64",)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(config_names(*KEY_FOLDERS))
        write_json(out / "unet_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = {
            name: module_case(name, dict(spec, inputs=f"{name}/in"), tensors, seed, keep_preprocessor, run)
            for seed, (name, spec) in enumerate(CASES.items())
        }
        write_json(out / "unet_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "unet_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name) for name in INIT_CONFIGS}
        write_json(out / "unet_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
