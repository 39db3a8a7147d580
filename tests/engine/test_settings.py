"""``seglab.engine.settings``: notices for config keys seglab reads but does not apply."""

from __future__ import annotations

from seglab.engine.settings import collect_notices


def test_a_test_cfg_asking_for_fp16_is_told_about_seglab_test_amp():
    notices = collect_notices({"test_cfg": {"type": "TestLoop", "fp16": True}, "val_cfg": {"fp16": True}})
    (test_line,) = [line for line in notices if line.startswith("test_cfg")]
    (val_line,) = [line for line in notices if line.startswith("val_cfg")]
    assert "not applied" in test_line and "`seglab test --amp`" in test_line and "\n" not in test_line
    assert "--amp" not in val_line  # validation during training has no --amp of its own
    assert not [line for line in collect_notices({"test_cfg": {"type": "TestLoop"}}) if "test_cfg" in line]
