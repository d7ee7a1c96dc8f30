"""Build a trained model without teachers and run it on images."""
import copy
import os.path as osp
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import DefaultScope

from sakbox.registry import MODELS
from sakbox.structures import MultiTaskDataSample
from sakbox.utils.checkpoint import read_checkpoint
from sakbox.utils.eval_model_cfg import prepare_model_cfg_for_test
from sakbox.utils.mmcv_ops_shim import apply_mmcv_ops_shim
from sakbox.utils.renamed_types import check_renamed_types
from sakbox.utils.state_dict_fit import StateDictFit, load_state_dict_checked

ImageType = Union[str, Path, np.ndarray]
#: Pipeline steps that only prepare ground truth; inference drops them.
GT_ONLY_TRANSFORMS = ('LoadMultiTaskAnnotations', 'AddIgnoreRegions')
#: Image loaders that an in-memory array replaces.
IMAGE_LOADERS = ('LoadImageFromFile', 'mmcv.LoadImageFromFile')


def load_model_weights(model: nn.Module, checkpoint: str, strict: bool = True,
                       logger: Optional[Any] = 'current') -> StateDictFit:
    """Load a checkpoint file into ``model``, strictly unless told otherwise.

    ``teachers.*`` keys are ignored (teachers load their own weights) and
    ``module.`` prefixes (DDP) are stripped. Strict loading fails unless every
    model tensor is set and the file holds nothing else; the error names the
    file, the counts and the first missing, unexpected and mis-shaped keys,
    and says when the file looks like an official SAK or RADIO release (with
    the converter to run) or a checkpoint of another sakbox model.

    Args:
        model (nn.Module): Target model; a DDP (or other MMEngine) wrapper is
            unwrapped.
        checkpoint (str): Path (or URL) of an MMEngine checkpoint or a state dict.
        strict (bool): False loads the tensors that fit and logs a warning
            with the counts; the others keep their initial values. Defaults to True.
        logger: Where messages go (see :func:`mmengine.logging.print_log`).

    Returns:
        StateDictFit: What was loaded.

    Raises:
        CheckpointError: The file cannot be read (missing, empty, truncated,
            not a checkpoint, refused by weights-only loading).
        CheckpointMismatchError: ``strict`` and the checkpoint does not fit;
            the model is left untouched.
    """
    if is_model_wrapper(model):
        model = model.module
    ckpt = read_checkpoint(checkpoint, map_location='cpu')
    fit = load_state_dict_checked(model, ckpt, str(checkpoint), strict=strict, logger=logger)
    if fit.complete:
        print_log(f'loaded {checkpoint}: all {fit.num_model} tensors of '
                  f'{fit.model_name}', logger=logger)
    return fit


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> nn.Module:
    """Build a model from a config, without teachers, and load a checkpoint.

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Trained weights; None keeps the init.
        device (str): Device to put the model on. Default: ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config.
        strict (bool): Fail unless the checkpoint sets every model tensor and
            holds nothing else (see :func:`load_model_weights`); False loads
            what fits, with a warning. Default: True.

    Returns:
        nn.Module: The model in eval mode, with the config as ``model.cfg``.

    A config with ``mmcv_ops_shim = True`` gets the mmcv.ops shim installed
    before the model is built (mmseg heads with mmcv-lite, docs/decoders.md).
    """
    if isinstance(config, (str, Path)):
        cfg = Config.fromfile(str(config))
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError(f'config must be a path or a Config, got {type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_renamed_types(cfg, str(config) if isinstance(config, (str, Path)) else 'the config')
    prepare_model_cfg_for_test(cfg.model, checkpoint is not None)
    apply_mmcv_ops_shim(cfg)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_model_weights(model, checkpoint, strict=strict)
    model.cfg = cfg
    model.to(device)
    model.eval()
    return model


def _test_pipeline_cfg(cfg: Config) -> List[dict]:
    if cfg.get('test_pipeline') is not None:
        return copy.deepcopy(list(cfg.test_pipeline))
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key)
        if loader and loader.get('dataset', {}).get('pipeline') is not None:
            return copy.deepcopy(list(loader.dataset.pipeline))
    raise KeyError('the config has no test_pipeline and no test/val dataloader pipeline')


def build_inference_pipeline(cfg: Config, from_array: bool = False) -> Compose:
    """The config's test pipeline without ground-truth steps.

    Args:
        cfg (Config): A full config.
        from_array (bool): Inputs are in-memory arrays: drop the image loader.

    Returns:
        Compose: A callable mapping a results dict to packed inputs.
    """
    steps = []
    for step in _test_pipeline_cfg(cfg):
        kind = str(step.get('type', ''))
        if kind in GT_ONLY_TRANSFORMS or 'Annotation' in kind:
            continue
        if from_array and kind in IMAGE_LOADERS:
            continue
        steps.append(step)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        return Compose(steps)


def inference_model(model: nn.Module, img: Union[ImageType, Sequence[ImageType]]
                    ) -> Union[MultiTaskDataSample, List[MultiTaskDataSample]]:
    """Predict every task of ``model`` on one image or a list of images.

    Args:
        model (nn.Module): A model from :func:`init_model` (needs ``model.cfg``).
        img (str | Path | np.ndarray | list): Image file(s), or BGR uint8
            array(s) (H, W, 3) as loaded by mmcv.

    Returns:
        MultiTaskDataSample | List[MultiTaskDataSample]: ``pred_<task>`` at
        the original image size (one sample, or a list for a list input).
    """
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise AttributeError('inference_model needs model.cfg; build the model with init_model')
    single = not isinstance(img, (list, tuple))
    imgs = [img] if single else list(img)
    if not imgs:
        return []
    from_array = isinstance(imgs[0], np.ndarray)
    if any(isinstance(i, np.ndarray) != from_array for i in imgs):
        raise TypeError('inference_model: mix of arrays and paths; give one kind')
    pipeline = build_inference_pipeline(cfg, from_array)
    data = []
    for i, item in enumerate(imgs):
        if from_array:
            if item.ndim != 3 or item.shape[2] != 3:
                raise ValueError(f'image {i}: expected a (H, W, 3) BGR array, got {item.shape}')
            results = dict(img=item, img_shape=item.shape[:2], ori_shape=item.shape[:2],
                           img_path=None, img_id=str(i))
        else:
            path = str(item)
            if not osp.isfile(path):
                raise FileNotFoundError(f'image not found: {path}')
            results = dict(img_path=path, img_id=osp.splitext(osp.basename(path))[0])
        data.append(pipeline(results))
    with torch.no_grad():
        samples = model.test_step(pseudo_collate(data))
    return samples[0] if single else samples
