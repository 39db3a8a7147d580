"""The fine-tuned Hub models that shipped configs load as ``hf://REPO``, with what their authors published for
exactly that checkpoint: one ``HubModel`` per repo naming its shipped config, how the weights relate to it, the
test that proves the key map, and the published mIoU with the file it was read from (a GitHub file at a
commit, so the number cannot move under the link), or why no number is given.

This table is the one place the pairing is kept: ``seglab zoo``'s "hub model" column of an MMSegmentation
config comes from here (``paired_repo``), and a seglab-only ``*_hf-*`` config, which must name its Hub model
in ``load_from`` to load it, is checked against its entry by a test. ``seglab zoo --pretrained-table
docs/pretrained.md`` writes the Hub-model table of that page from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A cited source is one file of one GitHub commit: https://github.com/OWNER/REPO/blob/<40 hex>/PATH
PINNED_GITHUB_FILE = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+/blob/[0-9a-f]{40}/\S+$")


@dataclass(frozen=True)
class HubModel:
    """A fine-tuned Hub model paired with a shipped config, and its published result (or why there is none).

    ``mIoU`` is the single-scale test, ``mIoU_ms_flip`` the multi-scale + flip one, both as ``source`` prints
    them; ``matched`` says which row of ``source`` is this checkpoint (backbone, crop, schedule) and how that
    was established. ``why_none`` replaces all three when no number exists for this exact checkpoint."""

    repo: str
    config: str  # family/stem of the shipped config, as ``seglab zoo`` names it
    relation: str
    parity_test: str  # tests/...py::test_name
    mIoU: float | None = None
    mIoU_ms_flip: float | None = None
    source: str = ""
    matched: str = ""
    why_none: str = ""

    def __post_init__(self) -> None:
        numbers = [v for v in (self.mIoU, self.mIoU_ms_flip) if v is not None]
        if numbers and (self.why_none or not PINNED_GITHUB_FILE.match(self.source) or not self.matched):
            raise ValueError(f"{self.repo}: a published mIoU needs source= (a GitHub file at a commit) and matched=")
        if not numbers and (self.source or not self.why_none):
            raise ValueError(f"{self.repo}: with no published mIoU, say why_none= (and no source=)")
        if any(not 0 < v <= 100 for v in numbers):
            raise ValueError(f"{self.repo}: mIoU values lie in (0, 100]")

    @property
    def published(self) -> bool:
        return self.mIoU is not None or self.mIoU_ms_flip is not None

    def values(self) -> str:
        """``46.11 (ms+flip 46.62)``, ``47.7``, ``ms+flip 54.2``, or ``none published``."""
        if not self.published:
            return "none published"
        if self.mIoU is None:
            return f"ms+flip {self.mIoU_ms_flip}"
        return f"{self.mIoU} (ms+flip {self.mIoU_ms_flip})" if self.mIoU_ms_flip is not None else f"{self.mIoU}"

    def numbers(self) -> str:
        """``published mIoU 46.11 (ms+flip 46.62)``, or ``none published``."""
        return f"published mIoU {self.values()}" if self.published else self.values()

    def summary(self) -> str:
        """One line for ``seglab zoo``: the numbers with their source, or ``none published`` with the reason."""
        return f"{self.numbers()} ({self.source})" if self.published else f"none published: {self.why_none}"

    def to_json(self) -> dict[str, object]:
        if self.published:
            keys = ("mIoU", "mIoU_ms_flip", "source", "matched")
            return {key: getattr(self, key) for key in keys}
        return {"none_published": self.why_none}


_MMSEG = "https://github.com/open-mmlab/mmsegmentation/blob"
_CONVNEXT_README = f"{_MMSEG}/104429be008d84cd4ca7f162e2fd04f93c77e8ad/configs/convnext/README.md"
_SWIN_README = f"{_MMSEG}/0e7cafef0ecc3ad6da7553b8fe96c2a6c1adac0c/configs/swin/README.md"
_MASK2FORMER_ZOO = (
    "https://github.com/facebookresearch/Mask2Former/blob/9b0651c6c1d5b3af2e6da0589b719c514ec0d69a/MODEL_ZOO.md"
)
_MASKFORMER_ZOO = (
    "https://github.com/facebookresearch/MaskFormer/blob/da3e60d85fdeedcb31476b5edd7d328826ce56cc/MODEL_ZOO.md"
)
_UNILM = "https://github.com/microsoft/unilm/blob/768a3c873f598bb9b4d4dfb9267b099e35f8fe56/beit"
_SEGFORMER_README = "https://github.com/NVlabs/SegFormer/blob/65fa8cfa9b52b6ee7e8897a98705abf8570f9e32/README.md"
_DPT_README = "https://github.com/isl-org/DPT/blob/cd3fe90bb4c48577535cc4d51b602acca688a2ee/README.md"
_HUB_TESTS = "tests/models/test_hub_models.py"
_MASK_TESTS = "tests/models/test_hub_mask_models.py"
_CONVERTED = "the file transformers' {script} converts for this repo is the one on this row"

_SEGFORMER_NONE = (
    f"the authors' repository links the trained weights with no results table ({_SEGFORMER_README}) and the "
    "Hub card, written by Hugging Face, states no number; the paper's per-size {dataset} results "
    "(arXiv:2105.15203) are not tied to the released file, and MMSegmentation's rows are its own retraining"
)
_SEGFORMER_RELATION = (
    "the SegFormer authors' model; the config is MMSegmentation's with the authors' head (no activation after "
    "the per-level projections, `decode_head.act_cfg=None`{width})"
)


def _segformer(size: str, crop: int, cityscapes: bool = False) -> HubModel:
    dataset, data = ("cityscapes", "Cityscapes") if cityscapes else ("ade", "ADE20K")
    wide = size not in ("b0", "b1")  # the authors' b2-b5 heads have 768 channels, MMSegmentation's 256
    relation = f"as {'b2' if wide else 'b0'}"
    if size in ("b0", "b2"):
        relation = _SEGFORMER_RELATION.format(width="; the authors' `decode_head.channels=768`" if wide else "")
    return HubModel(
        f"nvidia/segformer-{size}-finetuned-{dataset}-{crop}-{crop}",
        f"segformer/segformer_mit-{size}_hf-nvidia_{'cityscapes' if cityscapes else 'ade20k'}-{crop}x{crop}",
        relation,
        f"{_HUB_TESTS}::test_segformer_from_a_hub_folder_gives_the_hub_models_logits",
        why_none=_SEGFORMER_NONE.format(dataset=data),
    )


def _upernet_convnext(size: str, letter: str, crop: int, miou: float, ms_flip: float, stamp: str) -> HubModel:
    stem = f"convnext-{size}_upernet_8xb2-amp-160k_ade20k-{crop}x{crop}"
    file = f"upernet_convnext_{size}_fp16_{crop}x{crop}_160k_ade20k_{stamp}.pth"
    return HubModel(
        f"openmmlab/upernet-convnext-{size}",
        f"convnext/{stem}",
        "converted from MMSegmentation's checkpoint of that config" if size == "tiny" else "as tiny",
        f"{_HUB_TESTS}::test_upernet_convnext_from_a_hub_folder_gives_the_hub_models_logits",
        miou,
        ms_flip,
        _CONVNEXT_README,
        f"UperNet ConvNeXt-{letter}, {crop}x{crop}, 160k ({file}); "
        + _CONVERTED.format(script="convert_convnext_upernet_to_pytorch.py"),
    )


def _upernet_swin(size: str, miou: float, ms_flip: float, file: str, stem: str, relation: str = "as tiny") -> HubModel:
    window, pretrain = ("7", "ImageNet-1K 224x224") if size in ("tiny", "small") else ("12", "ImageNet-22K 384x384")
    return HubModel(
        f"openmmlab/upernet-swin-{size}",
        f"swin/swin-{size}-patch4-window{window}-{stem}_upernet_8xb2-160k_ade20k-512x512",
        relation,
        f"{_HUB_TESTS}::test_upernet_swin_from_a_hub_folder_gives_the_hub_models_logits",
        miou,
        ms_flip,
        _SWIN_README,
        f"UPerNet Swin-{size[0].upper()}, window {window}, 512x512, {pretrain} pre-training, 160k ({file}.pth); "
        + _CONVERTED.format(script="convert_swin_upernet_to_pytorch.py"),
    )


_SWIN_FILE = "upernet_swin_{}_patch4_window{}_512x512_160k_ade20k_pretrain_{}_{}"
_MASK_AUTHORS = "the {} authors' model (not MMSegmentation's retraining, whose mIoU the zoo's own column shows)"


def _mask2former(size: str, dataset: str, stem: str, numbers: tuple[float, float], row: str, why: str) -> HubModel:
    """``row``: the authors' config name; ``why``: how this repo was matched to that row."""
    letter, ade = size[0].upper(), dataset == "ade"
    return HubModel(
        f"facebook/mask2former-swin-{size}-{dataset}-semantic",
        f"mask2former/mask2former_swin-{stem}",
        _MASK_AUTHORS.format("Mask2Former"),
        f"{_MASK_TESTS}::test_mask2former_swin_from_a_hub_folder_gives_the_hub_models_logits",
        *numbers,
        _MASK2FORMER_ZOO,
        f"{'ADE20K' if ade else 'Cityscapes'} semantic, Swin-{letter}, {'160k' if ade else '90k'} ({row}): {why}",
    )


_ONLY_ROW = "the only Swin-{} row of the authors' {} semantic table, the model the Hub repo's name (size, {}) names"
_M2F_NAMES = (
    "transformers' convert_mask2former_original_pytorch_checkpoint_to_pytorch.py names a checkpoint {} from the "
    "size in its config name, 'base_IN21k' before 'base'"
)
_BEIT_HF = (
    "the BEiT authors' model; the config is MMSegmentation's BEiT-{} with the blocks the Hub model reads "
    "(`out_indices={}`), LayerNorm eps 1e-12 and the Hub's normalisation"
)

HUB_MODELS: tuple[HubModel, ...] = (
    _segformer("b0", 512),
    _segformer("b1", 512),
    _segformer("b2", 512),
    _segformer("b3", 512),
    _segformer("b5", 640),
    *(_segformer(f"b{i}", 1024, cityscapes=True) for i in range(6)),
    _upernet_convnext("tiny", "T", 512, 46.11, 46.62, "20220227_124553-cad485de"),
    _upernet_convnext("small", "S", 512, 48.56, 49.02, "20220227_131208-1b1e394f"),
    _upernet_convnext("base", "B", 512, 48.71, 49.54, "20220227_181227-02a24fc6"),
    _upernet_convnext("large", "L", 640, 53.16, 53.38, "20220226_040532-e57aa54d"),
    _upernet_convnext("xlarge", "XL", 640, 53.58, 54.11, "20220226_080344-95fc38c2"),
    _upernet_swin(
        "tiny",
        44.41,
        45.79,
        _SWIN_FILE.format("tiny", 7, "224x224_1K", "20210531_112542-e380ad3e"),
        "in1k-pre",
        "converted from MMSegmentation's checkpoint of that config",
    ),
    _upernet_swin(
        "small", 47.72, 49.24, _SWIN_FILE.format("small", 7, "224x224_1K", "20210526_192015-ee2fff1c"), "in1k-pre"
    ),
    _upernet_swin(
        "base",
        50.76,
        52.4,
        _SWIN_FILE.format("base", 12, "384x384_22K", "20210531_125459-429057bf"),
        "in22k-384x384-pre",
    ),
    _upernet_swin(
        "large",
        52.25,
        54.12,
        "upernet_swin_large_patch4_window12_512x512_pretrain_384x384_22K_160k_ade20k_20220318_091743-9ba68901",
        "in22k-384x384-pre",
        "as tiny; MMSegmentation 1.2.2's metafile has no row for this config, so the zoo lists no checkpoint of its own",
    ),
    HubModel(
        "microsoft/beit-base-finetuned-ade-640-640",
        "beit/beit-base_upernet_hf-microsoft_ade20k-640x640",
        _BEIT_HF.format("B", "(1, 3, 5, 9)"),
        f"{_HUB_TESTS}::test_the_beit_hub_config_gives_the_hub_models_logits_and_normalisation",
        53.61,
        54.26,
        f"{_UNILM}/semantic_segmentation/README.md",
        "BEiT-base + UperNet, 640x640, 160k, the 'Expected results' of beit_base_patch16_640_pt22k_ft22ktoade20k.pth, "
        "the base ADE20K file transformers' convert_beit_unilm_to_pytorch.py converts",
    ),
    HubModel(
        "microsoft/beit-large-finetuned-ade-640-640",
        "beit/beit-large_upernet_hf-microsoft_ade20k-640x640",
        _BEIT_HF.format("L", "(5, 9, 13, 21)"),
        "tests/models/test_hub_beit_large.py::test_the_beit_large_hub_config_gives_the_hub_models_logits",
        56.7,
        57.0,
        f"{_UNILM}/README.md",
        "BEiT-large + UperNet, 640x640, 160k (beit_large_patch16_640_pt22k_ft22ktoade20k.pth): the BEiT-large row of "
        "the authors' ADE20K table, the large ADE20K file transformers' convert_beit_unilm_to_pytorch.py converts",
    ),
    HubModel(
        "Intel/dpt-large-ade",
        "dpt/dpt_vit-l16_hf-intel_ade20k-480x480",
        "the DPT authors' model (dpt_large-ade20k-b12dca68.pt); the config is MMSegmentation's DPT at the Hub "
        "model's sizes with what transformers computes differently set to match",
        f"{_HUB_TESTS}::test_dpt_from_a_hub_folder_gives_the_hub_models_logits",
        why_none=(
            f"the authors' README lists dpt_large-ade20k-b12dca68.pt without a result ({_DPT_README}); the 49.02 "
            "the Hub card quotes is the paper's DPT-Hybrid, another model"
        ),
    ),
    _mask2former(
        "tiny",
        "ade",
        "t_8xb2-160k_ade20k-512x512",
        (47.7, 49.6),
        "maskformer2_swin_tiny_bs16_160k",
        _ONLY_ROW.format("T", "ADE20K", "ade, semantic"),
    ),  # fmt: skip
    _mask2former(
        "small",
        "ade",
        "s_8xb2-160k_ade20k-512x512",
        (51.3, 52.4),
        "maskformer2_swin_small_bs16_160k",
        _ONLY_ROW.format("S", "ADE20K", "ade, semantic"),
    ),  # fmt: skip
    _mask2former(
        "base",
        "ade",
        "b-in1k-384x384-pre_8xb2-160k_ade20k-640x640",
        (52.4, 53.7),
        "maskformer2_swin_base_384_bs16_160k_res640",
        "the ImageNet-1K Swin-B row (window 12, 384 pre-training, 640x640); "
        + _M2F_NAMES.format("'mask2former-swin-base-ade-semantic' only without IN21k"),
    ),  # fmt: skip
    _mask2former(
        "large",
        "ade",
        "l-in22k-384x384-pre_8xb2-160k_ade20k-640x640",
        (56.1, 57.3),
        "maskformer2_swin_large_IN21k_384_bs16_160k_res640",
        _ONLY_ROW.format("L", "ADE20K", "ade, semantic") + " (ImageNet-22K, window 12, 640x640)",
    ),  # fmt: skip
    _mask2former(
        "tiny",
        "cityscapes",
        "t_8xb2-90k_cityscapes-512x1024",
        (82.1, 83.0),
        "maskformer2_swin_tiny_bs16_90k",
        _ONLY_ROW.format("T", "Cityscapes", "cityscapes, semantic"),
    ),  # fmt: skip
    _mask2former(
        "small",
        "cityscapes",
        "s_8xb2-90k_cityscapes-512x1024",
        (82.6, 83.6),
        "maskformer2_swin_small_bs16_90k",
        _ONLY_ROW.format("S", "Cityscapes", "cityscapes, semantic"),
    ),  # fmt: skip
    _mask2former(
        "base-IN21k",
        "cityscapes",
        "b-in22k-384x384-pre_8xb2-90k_cityscapes-512x1024",
        (83.3, 84.5),
        "maskformer2_swin_base_IN21k_384_bs16_90k",
        "the only Swin-B row of the authors' Cityscapes semantic table (ImageNet-22K, window 12); "
        + _M2F_NAMES.format("'mask2former-swin-base-IN21k-cityscapes-semantic'"),
    ),  # fmt: skip
    _mask2former(
        "large",
        "cityscapes",
        "l-in22k-384x384-pre_8xb2-90k_cityscapes-512x1024",
        (83.3, 84.3),
        "maskformer2_swin_large_IN21k_384_bs16_90k",
        _ONLY_ROW.format("L", "Cityscapes", "cityscapes, semantic") + " (ImageNet-22K, window 12)",
    ),  # fmt: skip
    HubModel(
        "facebook/maskformer-swin-tiny-ade",
        "maskformer/maskformer_swin-t_upernet_8xb2-160k_ade20k-512x512",
        _MASK_AUTHORS.format("MaskFormer"),
        f"{_MASK_TESTS}::test_maskformer_swin_from_a_hub_folder_gives_the_hub_models_logits",
        46.7,
        48.8,
        _MASKFORMER_ZOO,
        "ADE20K semantic, Swin-T, 512x512, 160k (maskformer_swin_tiny_bs16_160k): the only Swin-T row of the "
        "authors' ADE20K table; the Hub card: trained on ADE20k semantic segmentation, tiny-sized, Swin backbone",
    ),
    HubModel(
        "facebook/maskformer-swin-small-ade",
        "maskformer/maskformer_swin-s_upernet_8xb2-160k_ade20k-512x512",
        _MASK_AUTHORS.format("MaskFormer"),
        f"{_MASK_TESTS}::test_maskformer_swin_from_a_hub_folder_gives_the_hub_models_logits",
        49.8,
        51.0,
        _MASKFORMER_ZOO,
        "ADE20K semantic, Swin-S, 512x512, 160k (maskformer_swin_small_bs16_160k): the only Swin-S row of the "
        "authors' ADE20K table, the model the Hub repo's name (small, ade) names",
    ),
)
BY_REPO: dict[str, HubModel] = {model.repo: model for model in HUB_MODELS}
BY_CONFIG: dict[str, HubModel] = {model.config: model for model in HUB_MODELS}


def hub_model(repo: str | None) -> HubModel | None:
    """The table's entry for ``repo`` (``USER/REPO``, as a zoo row's ``hub`` names it); None when not listed."""
    return BY_REPO.get(repo) if repo else None


def paired_repo(config: str) -> str | None:
    """The Hub repo paired with the shipped config ``family/stem`` (the zoo's "hub model" column); None if none."""
    model = BY_CONFIG.get(config)
    return model.repo if model else None
