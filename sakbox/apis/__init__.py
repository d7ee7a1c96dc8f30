"""High-level APIs: build a trained model and run it on images."""
from .inference import (
                        build_inference_pipeline,
                        builds_teachers_for_test,
                        inference_model,
                        init_model,
                        load_model_weights,
                        prepare_model_cfg_for_test,
)

__all__ = [
    'init_model', 'inference_model', 'build_inference_pipeline', 'load_model_weights',
    'prepare_model_cfg_for_test', 'builds_teachers_for_test'
]
