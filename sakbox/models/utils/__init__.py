"""Model utilities: batch ground truth stacking, logits post-processing, pos-embed resampling."""
from .pos_embed import resample_pos_embeds_in_state_dict
from .postprocess import TASK_POSTPROCESS, postprocess_logits
from .task_gt import gt_pad_value, resize_logits, stack_task_gt

__all__ = [
    'stack_task_gt', 'gt_pad_value', 'resize_logits', 'postprocess_logits', 'TASK_POSTPROCESS',
    'resample_pos_embeds_in_state_dict'
]
