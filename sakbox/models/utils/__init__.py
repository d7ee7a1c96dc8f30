"""Model utilities: batch ground truth stacking, logits post-processing, pos-embed resampling."""
from .out_indices import default_out_indices, resolve_out_indices
from .pos_embed import resample_pos_embed, resample_pos_embeds_in_state_dict
from .postprocess import TASK_POSTPROCESS, postprocess_logits
from .task_gt import (
    GT_CHANNELS,
    IGNORE_INDEX,
    LABEL_TASKS,
    REGRESSION_TASKS,
    gt_pad_value,
    resize_logits,
    stack_task_gt,
)
from .timm_models import create_timm_model, load_timm_checkpoint, timm_filter_fn

__all__ = [
    'stack_task_gt', 'gt_pad_value', 'resize_logits', 'postprocess_logits', 'TASK_POSTPROCESS',
    'resample_pos_embeds_in_state_dict', 'LABEL_TASKS', 'REGRESSION_TASKS', 'GT_CHANNELS',
    'IGNORE_INDEX', 'resample_pos_embed', 'default_out_indices', 'resolve_out_indices',
    'create_timm_model', 'load_timm_checkpoint', 'timm_filter_fn'
]
