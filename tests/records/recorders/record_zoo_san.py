"""Record MMSegmentation 1.2.2's SAN family (Side Adapter Network, CLIP): keys, fixtures, init stats, conversion.

Run with the reference environment's Python (parts: keys fixtures init convert; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_san.py tests/records/zoo

Writes ``san_keys.json.gz`` (built on the CPU), ``san_fixtures.json.gz`` + ``.pt`` (a small ``CLIPTextEncoder``,
a small ``SideAdapterCLIPHead``, and MMSegmentation's CLIP tokenizer on seven prompts), ``san_init_stats.json.gz``
(4 seeds; MMSegmentation cannot initialise SAN without a checkpoint, so ``RecWithAttnbias.init_weights(None)`` is
made to do nothing; rows of parameters MMSegmentation leaves uninitialised are replaced, see ``EDITED``) and
``san_convert.pt`` (an OpenAI-CLIP-layout checkpoint and ``tools/model_converters/clip2mmseg.py``'s conversion,
``visual_split=2``). Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import copy

import torch
from _zoo import (
    build,
    config_names,
    flat_state,
    init_record,
    init_rows,
    key_record,
    keys_of,
    load_converter,
    parse_out_dir,
    randomize,
    seeded,
    setup,
    write_parts,
)
from mmengine.config import ConfigDict
from mmseg.models.decode_heads import san_head
from mmseg.utils import tokenizer

RECORDER = "tests/records/recorders/record_zoo_san.py"
CLIP_TEXT = dict(
    vocabulary=["cat", "dog", "tree"],
    total_vocab_size=64,
    context_length=12,
    embed_dims=16,
    num_layers=2,
    num_heads=2,
    output_dims=8,
)
SAN_HEAD = dict(
    num_classes=3,
    deep_supervision_idxs=[2],
    align_corners=False,
    san_cfg=dict(
        in_channels=3,
        clip_channels=16,
        embed_dims=8,
        patch_size=16,
        patch_bias=True,
        num_queries=5,
        cfg_encoder=dict(num_encode_layer=3, num_heads=2, mlp_ratio=2),
        fusion_index=[0, 1, 2],
        cfg_decoder=dict(num_heads=2, num_layers=1, embed_channels=8, mlp_channels=8, num_mlp=3, rescale=True),
        norm_cfg=dict(type="LN", eps=1e-06),
    ),
    maskgen_cfg=dict(
        sos_token_format="cls_token",
        sos_token_num=5,
        cross_attn=False,
        num_layers=2,
        embed_dims=16,
        num_heads=2,
        mlp_ratio=2,
        qkv_bias=True,
        out_dims=8,
        final_norm=True,
        act_cfg=dict(type="QuickGELU"),
        norm_cfg=dict(type="LN", eps=1e-05),
        frozen_exclude=[],
    ),
    train_cfg=None,
    loss_decode=[],
)
PROMPTS = [
    "a photo of a aeroplane.",
    "There is a potted plant in the scene",
    "This is a photo of a tvmonitor",
    "There is a large window-other in the scene.",
    "a photo of a small cabinet-merged.",
    "tv/monitor, x_y-z 3.5 Café's  &amp;  done",
    "a photo of a " + "very " * 80 + "long name",
]
INIT_CONFIG = "san/san-vit-b16_voc12aug-640x640"
INIT_ABOUT = (
    "per-parameter [name, numel, mean, std] after MODELS.build + model.init_weights(), pretrained=None; "
    "text_encoder.positional_embedding/text_projection are torch.empty in MMSeg: their rows are OpenAI CLIP's "
    "init (std 0.01 and 512^-0.5), which seglab uses"
)
BIAS_SCALING = "decode_head.side_adapter_network.mask_decoder.bias_scaling"
EDITED = {  # MMSegmentation's uninitialised (torch.empty) or seed-independent parameters: the intended init
    "text_encoder.positional_embedding": (0.0, 0.01),
    "text_encoder.text_projection": (0.0, 512**-0.5),
    f"{BIAS_SCALING}.weight": (0.0, 0.5774),
    f"{BIAS_SCALING}.bias": (0.0, 0.5774),
}


def text_ids(gen: torch.Generator) -> torch.Tensor:
    """Three rows of token ids: start 62, random ids, end 63, zero padding (lengths 6, 12, 9)."""
    ids = torch.zeros(3, 12, dtype=torch.long)
    for row, length in enumerate((6, 12, 9)):
        ids[row, 0], ids[row, length - 1] = 62, 63
        ids[row, 1 : length - 1] = torch.randint(1, 62, (length - 2,), generator=gen)
    return ids


def fixtures(tensors: dict) -> dict:
    gen = torch.Generator().manual_seed(0)
    text = randomize(build(dict(type="CLIPTextEncoder", **CLIP_TEXT), "cpu"), gen).eval()
    ids = text_ids(gen)
    tensors["clip_text/state"], tensors["clip_text/ids"] = flat_state(text), ids
    with torch.no_grad():
        tensors["clip_text/out/0"] = text.encode_text(ids)
        tensors["clip_text/out/1"] = text.encode_text(ids, normalize=True)
    cases = {"clip_text": dict(type="CLIPTextEncoder", kwargs=CLIP_TEXT, keys=keys_of(text))}

    gen = torch.Generator().manual_seed(1)
    head = randomize(build(ConfigDict(type="SideAdapterCLIPHead", **copy.deepcopy(SAN_HEAD)), "cpu"), gen).eval()
    tensors["san_head/state"] = flat_state(head)
    image, embeds = seeded([2, 3, 64, 80], gen), seeded([4, 8], gen)
    clip = [[seeded([2, 16, 3, 4], gen), seeded([2, 16], gen)] for _ in range(3)]
    tensors["inputs/san_head/image"], tensors["inputs/san_head/embeds"] = image, embeds
    for i, (feature, token) in enumerate(clip):
        tensors[f"inputs/san_head/clip/{i}/0"], tensors[f"inputs/san_head/clip/{i}/1"] = feature, token
    with torch.no_grad():
        masks, logits = head([image, clip, embeds], [2])
        pred = head.predict_by_feat([masks[-1], logits[-1]], [dict(img_shape=(64, 80), pad_shape=(64, 80))])
    outs = [*masks, *logits, pred]
    for i, o in enumerate(outs):
        tensors[f"san_head/out/{i}"] = o
    cases["san_head"] = dict(
        type="SideAdapterCLIPHead",
        kwargs=SAN_HEAD,
        deep_supervision_idxs=[2],
        output_shapes=[list(o.shape) for o in outs],
        keys=keys_of(head),
    )
    tokens = tokenizer.tokenize(PROMPTS)  # truncates at 77, ending with the end token
    cases["tokenizer"] = dict(prompts=PROMPTS, ids=[[int(t) for t in row if t] for row in tokens])
    return cases


def no_checkpoint_init(self, rec_state_dict=None) -> None:
    """What BaseModule.init_weights would do for RecWithAttnbias without a CLIP checkpoint: nothing."""


def init_stats() -> dict:
    san_head.RecWithAttnbias.init_weights = no_checkpoint_init
    rows = init_rows(INIT_CONFIG, seeds=4)
    rows = [[k, n, *EDITED[k]] if k in EDITED else [k, n, mean, std] for k, n, mean, std in rows]
    return dict(init_record({INIT_CONFIG: rows}, seeds=4), about=INIT_ABOUT)


def openai_layout(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """OpenAI CLIP's own names (clip/model.py): visual width 16, 3 layers, patch 4, 2x2 grid; text width 16,
    2 layers, vocabulary 64, context 12; output 8. N(0, 1) values."""
    out = {}

    def put(name: str, *shape: int) -> None:
        out[name] = torch.randn(shape, generator=gen)

    def blocks(prefix: str, layers: int) -> None:
        for i in range(layers):
            b = f"{prefix}.resblocks.{i}"
            put(f"{b}.attn.in_proj_weight", 48, 16)
            put(f"{b}.attn.in_proj_bias", 48)
            put(f"{b}.attn.out_proj.weight", 16, 16)
            put(f"{b}.attn.out_proj.bias", 16)
            put(f"{b}.ln_1.weight", 16)
            put(f"{b}.ln_1.bias", 16)
            put(f"{b}.mlp.c_fc.weight", 64, 16)
            put(f"{b}.mlp.c_fc.bias", 64)
            put(f"{b}.mlp.c_proj.weight", 16, 64)
            put(f"{b}.mlp.c_proj.bias", 16)
            put(f"{b}.ln_2.weight", 16)
            put(f"{b}.ln_2.bias", 16)

    put("positional_embedding", 12, 16)
    put("text_projection", 16, 8)
    put("logit_scale")
    put("visual.class_embedding", 16)
    put("visual.positional_embedding", 5, 16)
    put("visual.proj", 16, 8)
    put("visual.conv1.weight", 16, 3, 4, 4)
    put("visual.ln_pre.weight", 16)
    put("visual.ln_pre.bias", 16)
    blocks("visual.transformer", 3)
    put("visual.ln_post.weight", 16)
    put("visual.ln_post.bias", 16)
    put("token_embedding.weight", 64, 16)
    blocks("transformer", 2)
    put("ln_final.weight", 16)
    put("ln_final.bias", 16)
    out["input_resolution"] = torch.tensor(8)
    out["context_length"] = torch.tensor(12)
    out["vocab_size"] = torch.tensor(64)
    return out


def convert_record() -> dict:
    module = load_converter("clip2mmseg")
    original = openai_layout(torch.Generator().manual_seed(2024))
    converted = module.convert_tensor(module.convert_key_name(dict(original), 2))
    return dict(original=original, converted=dict(converted), recorder=RECORDER)


def san_keys() -> dict:
    """The SAN configs' key lists, built on the CPU (the record's ``about`` says so)."""
    keys = key_record(config_names("san"), device="cpu")
    keys["about"] = keys["about"].split(";")[0] + ", built on the CPU"
    return keys


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    write_parts(
        out,
        parts,
        "san",
        RECORDER,
        keys=san_keys,
        fixtures=fixtures,
        init=init_stats,
        convert=convert_record,
    )


if __name__ == "__main__":
    main()
