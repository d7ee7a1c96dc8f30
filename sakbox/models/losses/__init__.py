"""Task losses and distillation losses."""
from .balanced_bce_loss import BalancedBCELoss
from .cross_entropy_loss import MultiTaskCrossEntropyLoss
from .feature_distill_loss import FeatureDistillLoss, feature_cosine_similarity, match_feature_sizes
from .l1_loss import DepthL1Loss, L1Loss, NormalsL1Loss
from .summary_loss import SummaryCosineLoss

__all__ = [
    'MultiTaskCrossEntropyLoss', 'BalancedBCELoss', 'L1Loss', 'DepthL1Loss', 'NormalsL1Loss',
    'FeatureDistillLoss', 'match_feature_sizes', 'feature_cosine_similarity', 'SummaryCosineLoss'
]
