"""Any timm model as a backbone: ``type='TIMMBackbone'`` (MMSegmentation's defaults: ``features_only=True``,
``pretrained=True``) or ``type='mmpretrain.TIMMBackbone'`` (mmpretrain's: both False), with their arguments
(``model_name``, ``features_only``, ``pretrained``, ``checkpoint_path``, ``in_channels``, ``out_indices`` and
any other keyword timm's ``create_model`` takes).

timm is an optional extra (``pip install -e '.[timm]'`` in a clone) imported when the first such backbone is built.
Pre-trained weights come from the model's Hub repository through seglab's Hub download (its cache,
``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, one-line errors) and load through timm's own loader, which adapts them
(its key filters, ``in_channels`` other than 3) before wrapping the model for ``features_only``.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError, install_hint
from seglab.registry import MODELS

logger = logging.getLogger("seglab")
EXTRA = install_hint("timm", "timm")
# MMSegmentation norm names a config may give as ``norm_layer`` (MMSegmentation looks them up in its registry)
NORM_LAYERS = {"BN": nn.BatchNorm2d, "BN2d": nn.BatchNorm2d, "SyncBN": nn.SyncBatchNorm, "LN": nn.LayerNorm}


def import_timm() -> Any:
    """The ``timm`` module, or a ConfigError of one line naming the extra that installs it."""
    try:
        import timm
    except ModuleNotFoundError as err:
        missing = (err.name or "timm").split(".")[0]
        if missing == "timm":
            raise ConfigError(f"backbone type 'TIMMBackbone' needs timm, which is not installed: {EXTRA}") from None
        raise ConfigError(
            f"backbone type 'TIMMBackbone': timm needs '{missing}', which is not installed: pip install {missing}"
        ) from None
    return timm


def building_on_meta() -> bool:
    """Whether modules are being created on the meta device (structure only: no weights to download)."""
    return torch.empty(0).device.type == "meta"


def hub_weights(timm: Any, model_name: str) -> Path | None:
    """The local file of ``model_name``'s pre-trained weights, fetched from its Hub repository (None when timm
    keeps them elsewhere, a URL or a custom loader, and fetches them itself)."""
    from seglab.fileio.hub import hub_download

    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url or cfg.file):
        raise ConfigError(f"TIMMBackbone: timm has no pre-trained weights for '{model_name}'; set pretrained=False")
    if not cfg.hf_hub_id or cfg.custom_load:
        return None
    repo, _, revision = cfg.hf_hub_id.partition("@")
    return hub_download(repo, cfg.hf_hub_filename or "model.safetensors", revision or None)


def read_checkpoint_tensors(source: str) -> dict[str, torch.Tensor]:
    """The tensors of ``checkpoint_path`` (a file, URL or ``hf://`` name), read without running code."""
    from seglab.fileio.checkpoint import fetch, read_state

    return read_state(fetch(source), source)


def weight_overlay(timm: Any, model_name: str, pretrained: bool, checkpoint_path: str) -> dict:
    """timm's ``create_model`` arguments that load the asked-for weights (none on the meta device)."""
    if building_on_meta() or not (pretrained or checkpoint_path):
        return {"pretrained": False}
    if checkpoint_path:  # loaded before the features_only wrapping, so its keys are the whole model's
        overlay = {"state_dict": read_checkpoint_tensors(checkpoint_path)}
        return {"pretrained": True, "pretrained_cfg_overlay": overlay}
    path = hub_weights(timm, model_name)
    overlay = {"file": str(path)} if path is not None else None
    return {"pretrained": True, "pretrained_cfg_overlay": overlay}


def create_timm_model(timm: Any, model_name: str, **kwargs: Any) -> nn.Module:
    """``timm.create_model`` with its mistakes (an unknown name, no ``features_only`` support) as ConfigErrors."""
    if not timm.is_model(timm.models.split_model_name_tag(model_name)[0]):
        close = difflib.get_close_matches(model_name, timm.list_models(), n=3, cutoff=0.6)
        hint = f" — did you mean {', '.join(repr(c) for c in close)}?" if close else " (see timm.list_models())"
        raise ConfigError(f"TIMMBackbone: timm has no model '{model_name}'{hint}")
    try:
        return timm.create_model(model_name, **kwargs)
    except RuntimeError as err:
        if "features_only" not in str(err):
            raise
        raise ConfigError(
            f"TIMMBackbone: timm cannot give '{model_name}' as a feature pyramid (features_only=True); set "
            "features_only=False to get its last feature map"
        ) from None


@MODELS.register()
class TIMMBackbone(nn.Module):
    """A timm model whose forward returns a tuple of feature maps (N, C, H, W) for the decode head.

    ``features_only=True``: the maps timm's feature extraction gives (``out_indices`` picks them; channels in
    ``feature_channels``); ``False``: a 1-tuple of ``forward_features`` (token sequences for ViTs).
    ``pretrained`` True loads the model's default pre-trained weights from the Hub; a string is a checkpoint
    (what ``model.pretrained`` passes down), as is ``checkpoint_path`` (a file, URL or ``hf://`` name, timm's
    layout for the whole model)."""

    def __init__(
        self,
        model_name: str,
        features_only: bool = True,
        pretrained: bool | str | None = True,
        checkpoint_path: str = "",
        in_channels: int = 3,
        out_indices: Sequence[int] | None = None,
        init_cfg: dict | list | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        timm = import_timm()
        if isinstance(pretrained, str):
            if checkpoint_path:
                raise ConfigError("TIMMBackbone: set pretrained='...' or checkpoint_path, not both")
            pretrained, checkpoint_path = False, pretrained
        if isinstance(kwargs.get("norm_layer"), str) and kwargs["norm_layer"] in NORM_LAYERS:
            kwargs["norm_layer"] = NORM_LAYERS[kwargs["norm_layer"]]
        if out_indices is not None:
            kwargs["out_indices"] = tuple(out_indices)
        if out_indices is not None and not features_only:
            raise ConfigError("TIMMBackbone: out_indices needs features_only=True")
        self.model_name, self.features_only = model_name, features_only
        weights = weight_overlay(timm, model_name, bool(pretrained), checkpoint_path)
        self.timm_model = create_timm_model(
            timm, model_name, features_only=features_only, in_chans=in_channels, **weights, **kwargs
        )
        if not features_only and hasattr(self.timm_model, "reset_classifier"):
            self.timm_model.reset_classifier(0)  # no classifier: its parameters would get no gradient
        # weights loaded now are not re-initialised by init_cfg (MMSegmentation marks the module initialised)
        self.init_cfg = None if weights["pretrained"] else init_cfg
        if weights["pretrained"] and init_cfg:
            logger.warning("TIMMBackbone: init_cfg is ignored when pretrained or checkpoint_path loads weights")
        fmt = str(getattr(self.timm_model, "output_fmt", "NCHW"))
        self.channels_last = features_only and fmt.endswith("NHWC")

    @property
    def feature_channels(self) -> list[int]:
        """The channels of each returned map (the decode head's ``in_channels``); ``features_only`` models."""
        return list(self.timm_model.feature_info.channels())

    @property
    def feature_strides(self) -> list[int]:
        """The stride (input size / map size) of each returned map; ``features_only`` models."""
        return list(self.timm_model.feature_info.reduction())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not self.features_only:
            return (self.timm_model.forward_features(x),)
        features = self.timm_model(x)
        if self.channels_last:  # Swin-style models give (N, H, W, C)
            features = [f.permute(0, 3, 1, 2).contiguous() for f in features]
        return tuple(features)


class MMPretrainTIMMBackbone(TIMMBackbone):
    """``mmpretrain.TIMMBackbone``: the same wrapper with mmpretrain's defaults (``features_only=False``,
    ``pretrained=False``)."""

    def __init__(
        self,
        model_name: str,
        features_only: bool = False,
        pretrained: bool | str | None = False,
        checkpoint_path: str = "",
        in_channels: int = 3,
        out_indices: Sequence[int] | None = None,
        init_cfg: dict | list | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model_name, features_only, pretrained, checkpoint_path, in_channels, out_indices, init_cfg, **kwargs
        )


# registered by a call, not a decorator: the class name itself is no config type (only its mmpretrain name is)
MODELS.register("mmpretrain.TIMMBackbone")(MMPretrainTIMMBackbone)
