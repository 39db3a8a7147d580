"""Deployment: export a trained model to ONNX (``seglab export``) and run it with onnxruntime
(``seglab infer --backend onnxruntime``). Needs ``pip install 'seglab[deploy]'``."""

from seglab.deploy.onnx_export import export_onnx, verify_onnx
from seglab.deploy.onnx_runtime import OnnxSegmentor

__all__ = ["OnnxSegmentor", "export_onnx", "verify_onnx"]
