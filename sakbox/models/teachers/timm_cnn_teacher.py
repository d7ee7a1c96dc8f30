"""Frozen timm CNN (or any ``features_only``-capable timm model) teacher."""
from typing import List, Optional, Sequence

from torch import Tensor

from sakbox.registry import MODELS

from ..utils.timm_models import load_timm_checkpoint
from .base_teacher import (
    DEFAULT_INPUT_NORM,
    IMAGENET_MEAN_255,
    IMAGENET_STD_255,
    BaseTeacher,
)


@MODELS.register_module()
class TimmCNNTeacher(BaseTeacher):
    """Any timm model with a ``features_only`` mode (ResNets, ConvNeXts, EfficientNets...).

    Args:
        arch (str): timm name, e.g. ``'resnet50'``, ``'convnext_base'``.
        out_indices (Sequence[int]): Feature levels (timm ``out_indices``, negative
            counts from the deepest). Defaults to the last four: ``(-4, -3, -2, -1)``.
        pretrained (bool): Load timm's hub weights.
        checkpoint (str, optional): Local weights of the full classification
            model (timm format), loaded strictly into it before the features
            wrapper is made; its classifier keys are ignored.
        input_mean, input_std (Sequence[float]): Student normalisation, RGB 0-255.
        input_norm (str): ``'student'`` feeds the student's normalised input as it
            is (the official SAK; set by every SAK config), ``'teacher'``
            (default) re-normalises it to ``mean``/``std``. See :class:`BaseTeacher`.
        mean, std (Sequence[float], optional): Teacher stats, RGB 0-255, used with
            ``input_norm='teacher'``; default timm ``pretrained_cfg`` x 255.
        model_kwargs (dict, optional): Extra ``timm.create_model`` kwargs.
    """

    def __init__(self,
                 arch: str,
                 out_indices: Sequence[int] = (-4, -3, -2, -1),
                 pretrained: bool = False,
                 checkpoint: Optional[str] = None,
                 input_mean: Sequence[float] = IMAGENET_MEAN_255,
                 input_std: Sequence[float] = IMAGENET_STD_255,
                 input_norm: str = DEFAULT_INPUT_NORM,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 model_kwargs: Optional[dict] = None) -> None:
        super().__init__(input_mean=input_mean, input_std=input_std, input_norm=input_norm)
        import timm
        self.arch = arch
        kwargs = dict(num_classes=0, **(model_kwargs or {}))
        feat_kwargs = dict(features_only=True, out_indices=tuple(out_indices), **kwargs)
        if checkpoint is not None:
            # The features wrapper renames/prunes modules, so validate the file
            # against the full model and hand the result to timm's own loader.
            full = timm.create_model(arch, pretrained=False, **kwargs)
            load_timm_checkpoint(full, checkpoint)
            self.model = timm.create_model(
                arch, pretrained=True, **feat_kwargs,
                pretrained_cfg_overlay=dict(state_dict=full.state_dict(), source=''))
            del full
        else:
            self.model = timm.create_model(arch, pretrained=pretrained, **feat_kwargs)
        info = self.model.feature_info
        num_all = len(info.info)
        resolved = [i % num_all for i in out_indices]
        cfg = self.model.pretrained_cfg
        mean, std = self.resolve_stats(mean, std, cfg.get('mean', (0.485, 0.456, 0.406)),
                                  cfg.get('std', (0.229, 0.224, 0.225)))
        self.reductions = list(info.reduction())
        self._init_teacher(mean, std, list(info.channels()), resolved)

    def extract_features(self, x: Tensor) -> List[Tensor]:
        """Feature maps (B, C_l, H / r_l, W / r_l) with r_l = ``reductions[l]``."""
        return list(self.model(x))
