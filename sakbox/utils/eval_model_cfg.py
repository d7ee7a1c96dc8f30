"""The model config of a test-time build: no teachers unless needed, no pretrained weights."""
import inspect
from typing import Union

from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope

from sakbox.registry import MODELS

from .pretrained import disable_pretrained


def prepare_model_cfg_for_test(model_cfg: Union[dict, ConfigDict],
                               has_checkpoint: bool = True) -> Union[dict, ConfigDict]:
    """Adapt a model config for evaluation / inference, in place.

    Teachers are not built: ``build_teachers`` becomes the config's
    ``build_teachers_for_test``, else the model class's default for that
    argument (a model whose predictions are a distillation metric can
    default it to True), else False. With a checkpoint to load, initialisation from other
    weights is switched off: the model's ``init_cfg``, and the student's
    ``pretrained`` / ``checkpoint`` / ``vit_checkpoint`` / ``init_cfg`` where
    the config sets them (no hub access, no stage-1 file needed).

    Args:
        model_cfg (dict): The ``model`` config.
        has_checkpoint (bool): Whether trained weights will be loaded.

    Returns:
        dict: ``model_cfg``.
    """
    if 'teachers' in model_cfg or 'build_teachers' in model_cfg:
        model_cfg['build_teachers'] = builds_teachers_for_test(model_cfg)
    if has_checkpoint:
        disable_pretrained(model_cfg, teachers=False)
    return model_cfg


def builds_teachers_for_test(model_cfg: Union[dict, ConfigDict]) -> bool:
    """Whether a test-time build of ``model_cfg`` needs the teachers.

    Args:
        model_cfg (dict): The ``model`` config.

    Returns:
        bool: ``model_cfg['build_teachers_for_test']`` when set, else the
        default of that argument in the registered model class's
        ``__init__`` (False when the class has no such argument or is not
        found).
    """
    if model_cfg.get('build_teachers_for_test') is not None:
        return bool(model_cfg['build_teachers_for_test'])
    model_type = model_cfg.get('type')
    cls = model_type if inspect.isclass(model_type) else None
    if isinstance(model_type, str):
        try:
            with DefaultScope.overwrite_default_scope('sakbox'):
                cls = MODELS.get(model_type)
        except KeyError:  # the build names the unknown type itself
            cls = None
    if cls is None:
        return False
    param = inspect.signature(cls.__init__).parameters.get('build_teachers_for_test')
    if param is None or param.default is inspect.Parameter.empty:
        return False
    return bool(param.default)
