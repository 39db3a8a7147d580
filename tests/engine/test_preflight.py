"""The batch-padding pre-flight check asks each transform class whether it changes the image size."""

from __future__ import annotations

import pytest

from seglab.engine.preflight import check_batch_padding
from seglab.errors import ConfigError


def config(pipeline: list, batch_size: int = 2, **preprocessor) -> dict:
    loader = dict(batch_size=batch_size, dataset=dict(pipeline=pipeline))
    return dict(train_dataloader=loader, model=dict(data_preprocessor=preprocessor))


LOAD = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations")]


@pytest.mark.parametrize(
    "step, named",
    [
        (dict(type="ResizeShortestEdge", scale=512, max_size=2048), "ResizeShortestEdge"),
        (dict(type="RandomApply", transforms=[dict(type="ResizeToMultiple")]), "ResizeToMultiple"),
        (dict(type="RandomChoice", transforms=[[dict(type="RandomFlip")], [dict(type="Pad", size=(8, 8))]]), "Pad"),
    ],
)
def test_a_size_changing_transform_needs_batch_padding(step, named):
    with pytest.raises(ConfigError, match=rf"train pipeline \({named}\).*add size=crop_size"):
        check_batch_padding(config([*LOAD, step, dict(type="PackSegInputs")]))


def test_same_size_pipelines_padded_batches_and_unknown_types_pass():
    same_size = [*LOAD, dict(type="RandomFlip", prob=0.5), dict(type="PhotoMetricDistortion"), dict(type="MyAug")]
    check_batch_padding(config(same_size))
    resizing = [*LOAD, dict(type="RandomCrop", crop_size=(8, 8))]
    check_batch_padding(config(resizing, size=(8, 8)))
    check_batch_padding(config(resizing, size_divisor=32))
    check_batch_padding(config(resizing, batch_size=1))
