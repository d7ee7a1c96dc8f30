"""High-level APIs: build a trained model and run it on images."""
from sakbox.utils.eval_model_cfg import builds_teachers_for_test, prepare_model_cfg_for_test

from .inference import build_inference_pipeline, inference_model, init_model, load_model_weights

__all__ = [
    'init_model', 'inference_model', 'build_inference_pipeline', 'load_model_weights',
    'prepare_model_cfg_for_test', 'builds_teachers_for_test'
]
