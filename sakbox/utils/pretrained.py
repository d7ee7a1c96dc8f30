"""Switch off the loading of pretrained weights in a model config."""


def disable_pretrained(model_cfg: dict, teachers: bool = True) -> None:
    """Switch off every pretrained / checkpoint load in a model config, in place.

    Covers the model's ``init_cfg``, the student and (``teachers``) every
    teacher: ``pretrained`` becomes False where it is set, ``checkpoint``,
    ``vit_checkpoint`` and ``init_cfg`` become None where they are set.

    Args:
        model_cfg (dict): ``cfg.model`` (modified in place).
        teachers (bool): Also the teachers'. False when trained weights are
            loaded over the student only (teachers that are built at test time
            still need their own). Defaults to True.
    """
    model_cfg.pop('init_cfg', None)
    parts = [model_cfg.get('student')]
    if teachers:
        parts += list((model_cfg.get('teachers') or {}).values())
    for part in parts:
        if isinstance(part, dict):
            if 'pretrained' in part:
                part['pretrained'] = False
            for key in ('checkpoint', 'vit_checkpoint', 'init_cfg'):
                if part.get(key) is not None:
                    part[key] = None
