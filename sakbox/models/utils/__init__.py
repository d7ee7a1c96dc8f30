"""Model utilities: batch ground truth stacking, logits post-processing, timm model
creation, output indices and whole / sliding-window inference."""
from .out_indices import default_out_indices, resolve_out_indices
from .postprocess import TASK_POSTPROCESS, postprocess_logits
from .slide_inference import slide_inference, slide_windows
from .task_gt import gt_pad_value, resize_logits, stack_task_gt
from .test_cfg import TEST_MODES, check_test_cfg
from .timm_models import create_timm_model, load_timm_checkpoint, timm_filter_fn

__all__ = [
    'stack_task_gt', 'gt_pad_value', 'resize_logits', 'postprocess_logits', 'TASK_POSTPROCESS',
    'default_out_indices',
    'resolve_out_indices', 'create_timm_model', 'load_timm_checkpoint', 'timm_filter_fn',
    'slide_inference', 'slide_windows', 'check_test_cfg', 'TEST_MODES'
]
