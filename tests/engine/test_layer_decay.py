"""Layer-wise lr decay asks the backbone for its layer ids (``layer_decay_types`` + ``layer_id``).

MMSegmentation's own numbering for ConvNeXt, BEiT and MAE is checked against recorded groups in
tests/models/test_zoo_convnext_poolformer.py and test_zoo_beit_mae.py; here, the contract itself."""

from __future__ import annotations

import pytest
from torch import nn

from seglab.engine.layer_decay import learning_rate_decay_groups
from seglab.errors import ConfigError


class TwoLayerBackbone(nn.Module):
    """A stem (id 0) and one block (id 1); its output norm is left to the default, ``num_layers + 1``."""

    layer_decay_types = ("layer_wise",)

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.block, self.norm = nn.Linear(2, 3), nn.Linear(3, 3, bias=False), nn.LayerNorm(3)
        self.asked: list[tuple[str, int, str]] = []

    def layer_id(self, param_name: str, num_layers: int, decay_type: str) -> int:
        self.asked.append((param_name, num_layers, decay_type))
        return {"stem": 0, "block": 1}.get(param_name.split(".")[0], num_layers + 1)


class Segmentor(nn.Module):
    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone, self.decode_head = backbone, nn.Linear(3, 2)


def test_the_backbone_numbers_its_own_parameters_and_the_heads_sit_above_it():
    model = Segmentor(TwoLayerBackbone())
    paramwise = dict(decay_rate=0.5, num_layers=1, decay_type="layer_wise_vit")
    groups = learning_rate_decay_groups(model, 1.0, 0.05, paramwise)
    assert {g["group_name"]: (g["lr"], g["weight_decay"], g["param_names"]) for g in groups} == {
        "layer_0_decay": (0.25, 0.05, ["backbone.stem.weight"]),
        "layer_0_no_decay": (0.25, 0.0, ["backbone.stem.bias"]),
        "layer_1_decay": (0.5, 0.05, ["backbone.block.weight"]),
        "layer_2_no_decay": (1.0, 0.0, ["backbone.norm.weight", "backbone.norm.bias", "decode_head.bias"]),
        "layer_2_decay": (1.0, 0.05, ["decode_head.weight"]),
    }
    # names as the backbone knows them; any 'layer_wise...' decay_type asks for 'layer_wise', as MMSegmentation
    assert model.backbone.asked[:2] == [("stem.weight", 1, "layer_wise"), ("stem.bias", 1, "layer_wise")]
    assert len(model.backbone.asked) == 5  # the head is never asked


def test_a_backbone_without_a_rule_for_the_decay_type_is_named():
    paramwise = dict(decay_rate=0.9, num_layers=2, decay_type="stage_wise")
    with pytest.raises(
        ConfigError, match="'stage_wise' has no layer rule for a TwoLayerBackbone.*rules for layer_wise"
    ):
        learning_rate_decay_groups(Segmentor(TwoLayerBackbone()), 1.0, 0.0, paramwise)
    with pytest.raises(ConfigError, match="no layer rule for a Linear backbone; it defines no layer ids"):
        learning_rate_decay_groups(Segmentor(nn.Linear(2, 3)), 1.0, 0.0, dict(paramwise, decay_type="layer_wise"))
