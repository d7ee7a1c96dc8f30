"""Frozen torchvision classification model as a teacher (FX feature extraction)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from torch import Tensor

from sakbox.registry import MODELS
from sakbox.utils.state_dict_fit import load_state_dict_file, load_state_dict_strict

from .base_teacher import (
    DEFAULT_INPUT_NORM,
    IMAGENET_MEAN_255,
    IMAGENET_STD_255,
    BaseTeacher,
)

_IMAGENET_01 = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def auto_return_nodes(model: nn.Module, num_levels: int = 4,
                      probe_size: int = 224) -> List[str]:
    """Pick the last module of each of the ``num_levels`` deepest strides.

    Candidates are the children of ``model.features`` when it is an
    ``nn.Sequential`` (MobileNet, EfficientNet, ConvNeXt, VGG, DenseNet) and the
    model's own children otherwise (ResNet family). Global pools (1x1 outputs)
    are ignored.

    Args:
        model (nn.Module): A torchvision classification model.
        num_levels (int): Number of levels wanted.
        probe_size (int): Side of the dummy image used to measure strides.

    Returns:
        List[str]: Qualified module names, shallowest first.

    Raises:
        ValueError: If fewer than ``num_levels`` distinct strides are found.
    """
    features = getattr(model, 'features', None)
    if isinstance(features, nn.Sequential):
        candidates = [(f'features.{n}', m) for n, m in features.named_children()]
    else:
        candidates = list(model.named_children())
    strides: Dict[str, int] = {}
    hooks = []
    for name, module in candidates:
        def hook(_m, _i, out, name=name):
            if torch.is_tensor(out) and out.dim() == 4 and out.shape[-1] * out.shape[-2] > 1:
                strides[name] = round(probe_size / out.shape[-2])
        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, probe_size, probe_size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    last_by_stride: Dict[int, str] = {}
    for name, _ in candidates:
        if name in strides:
            last_by_stride[strides[name]] = name
    ordered = [last_by_stride[s] for s in sorted(last_by_stride)]
    if len(ordered) < num_levels:
        raise ValueError(f'Found only {len(ordered)} strides ({ordered}) in '
                         f'{type(model).__name__}; pass return_nodes explicitly (see '
                         'torchvision.models.feature_extraction.get_graph_node_names).')
    return ordered[-num_levels:]


@MODELS.register_module()
class TorchvisionTeacher(BaseTeacher):
    """Any torchvision classification model, features taken at ``return_nodes``.

    Args:
        arch (str): ``torchvision.models.get_model`` name, e.g. ``'resnet50'``.
        return_nodes (Sequence[str], optional): FX node or module names whose
            outputs are the levels (e.g. ``['layer1', ..., 'layer4']``). None
            picks the last module of each of the 4 deepest strides.
        pretrained (bool): Load torchvision weights ``weights`` (needs the network).
        weights (str): Weights enum name used for ``pretrained`` and for the default
            mean/std. Defaults to ``'DEFAULT'``.
        checkpoint (str, optional): Local state dict of the full classification
            model, loaded strictly.
        input_mean, input_std (Sequence[float]): Student normalisation, RGB 0-255.
        input_norm (str): ``'student'`` feeds the student's normalised input as it
            is (the official SAK; set by every SAK config), ``'teacher'``
            (default) re-normalises it to ``mean``/``std``. See :class:`BaseTeacher`.
        mean, std (Sequence[float], optional): Teacher stats, RGB 0-255, used with
            ``input_norm='teacher'``; default from the weights' transforms (ImageNet
            for all torchvision classifiers).
        model_kwargs (dict, optional): Extra ``get_model`` kwargs.
        probe_size (int): Dummy image side used to find default nodes and channels.
    """

    def __init__(self,
                 arch: str,
                 return_nodes: Optional[Sequence[str]] = None,
                 pretrained: bool = False,
                 weights: str = 'DEFAULT',
                 checkpoint: Optional[str] = None,
                 input_mean: Sequence[float] = IMAGENET_MEAN_255,
                 input_std: Sequence[float] = IMAGENET_STD_255,
                 input_norm: str = DEFAULT_INPUT_NORM,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 model_kwargs: Optional[dict] = None,
                 probe_size: int = 224) -> None:
        super().__init__(input_mean=input_mean, input_std=input_std, input_norm=input_norm)
        from torchvision.models import get_model
        from torchvision.models.feature_extraction import create_feature_extractor
        self.arch = arch
        use_hub = pretrained and checkpoint is None
        model = get_model(arch, weights=weights if use_hub else None, **(model_kwargs or {}))
        if checkpoint is not None:
            load_state_dict_strict(model, load_state_dict_file(checkpoint), checkpoint)
        if return_nodes is None:
            return_nodes = auto_return_nodes(model, probe_size=probe_size)
        self.return_nodes = list(return_nodes)
        self.model = create_feature_extractor(
            model.eval(), return_nodes={n: n for n in self.return_nodes})
        with torch.no_grad():
            probe = self.model(torch.zeros(1, 3, probe_size, probe_size))
        bad = {n: tuple(v.shape) for n, v in probe.items() if v.dim() != 4}
        if bad:
            raise ValueError(f'{arch}: return_nodes must give (B, C, h, w) maps, got {bad}')
        default_mean, default_std = self._weights_stats(arch, weights)
        mean, std = self.resolve_stats(mean, std, default_mean, default_std)
        self._init_teacher(mean, std, [probe[n].shape[1] for n in self.return_nodes],
                           self.return_nodes)

    @staticmethod
    def _weights_stats(arch: str, weights: Union[str, None]) -> tuple:
        """Mean/std (0-1) of the weights' own transforms; ImageNet if unknown."""
        try:
            from torchvision.models import get_model_weights
            tfm = get_model_weights(arch)[weights or 'DEFAULT'].transforms()
            return tuple(tfm.mean), tuple(tfm.std)
        except (KeyError, ValueError, AttributeError, TypeError):
            return _IMAGENET_01

    def extract_features(self, x: Tensor) -> List[Tensor]:
        """Outputs of ``return_nodes`` in order, (B, C_l, h_l, w_l)."""
        out = self.model(x)
        return [out[n] for n in self.return_nodes]
