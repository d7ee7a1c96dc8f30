"""Frozen teachers returning feature levels of (B, C, h, w) maps."""
from .base_teacher import (
    DEFAULT_INPUT_NORM,
    IMAGENET_MEAN_255,
    IMAGENET_STD_255,
    INPUT_NORMS,
    BaseTeacher,
    fill_input_norm,
)
from .builder import (
    DEFAULT_PREPROCESSOR,
    build_teacher,
    build_teacher_cfg,
    build_teachers,
    probe_teacher_dims,
    teacher_init_seeds,
)
from .open_clip_teacher import OpenCLIPTeacher
from .radio_teacher import RADIOTeacher
from .sam_teacher import SAMTeacher
from .timm_cnn_teacher import TimmCNNTeacher
from .timm_vit_teacher import TimmViTTeacher
from .torchvision_teacher import TorchvisionTeacher

__all__ = [
    'BaseTeacher', 'TimmViTTeacher', 'SAMTeacher', 'TimmCNNTeacher', 'TorchvisionTeacher',
    'OpenCLIPTeacher', 'RADIOTeacher', 'IMAGENET_MEAN_255', 'IMAGENET_STD_255', 'INPUT_NORMS',
    'DEFAULT_INPUT_NORM', 'fill_input_norm', 'DEFAULT_PREPROCESSOR', 'build_teacher',
    'build_teacher_cfg', 'build_teachers', 'probe_teacher_dims', 'teacher_init_seeds'
]
