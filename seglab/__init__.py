"""seglab: semantic segmentation in plain PyTorch, compatible with MMSegmentation 1.x configs and checkpoints."""

__version__ = "0.1.0"

from seglab import registry  # noqa: E402,F401  (loads every registered type)
from seglab.config import Config  # noqa: E402
from seglab.engine.checkpoint import load_checkpoint  # noqa: E402
from seglab.engine.runner import Runner  # noqa: E402
from seglab.inference import inference_model, init_model  # noqa: E402
from seglab.models.builder import build_model  # noqa: E402

__all__ = ["Config", "Runner", "build_model", "inference_model", "init_model", "load_checkpoint", "__version__"]
