"""Write a resolved config to a file whose format follows its suffix (``print_config.py``)."""
import os
import os.path as osp

from mmengine.config import Config

__all__ = ['CONFIG_SUFFIXES', 'save_config']

#: The suffixes ``Config.dump`` writes and ``Config.fromfile`` reads back.
CONFIG_SUFFIXES = ('.py', '.json', '.yaml', '.yml')


def save_config(cfg: Config, path: str) -> str:
    """Write ``cfg`` (every ``_base_`` merged) to ``path``, parent folders included.

    ``.py`` files hold ``cfg.pretty_text``; ``.json`` / ``.yaml`` the config's
    dict. ``Config.fromfile`` reads each back to the same dict, except that
    JSON has no tuples: they come back as lists.

    Args:
        cfg (Config): The config, e.g. from :func:`sakbox.utils.cli.load_config`.
        path (str): The file; its suffix (``.py``, ``.json``, ``.yaml``, ``.yml``)
            chooses the format.

    Returns:
        str: ``path``.

    Raises:
        ValueError: The suffix is not one of :data:`CONFIG_SUFFIXES`.
    """
    suffix = osp.splitext(path)[1]
    if suffix not in CONFIG_SUFFIXES:
        raise ValueError(f'cannot save a config as {path}: the suffix must be one of '
                         f'{", ".join(CONFIG_SUFFIXES)} (got {suffix or "none"!r})')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    cfg.dump(path)
    return path
