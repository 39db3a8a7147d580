"""Deployment: export a trained model to ONNX (``seglab export``) and run it with onnxruntime
(``seglab infer --backend onnxruntime``). Needs the ``deploy`` extra (``pip install -e '.[deploy]'`` in a clone)."""

from seglab.deploy.onnx_export import export_onnx, verify_onnx
from seglab.deploy.onnx_runtime import OnnxSegmentor

__all__ = ["OnnxSegmentor", "export_onnx", "verify_onnx"]
