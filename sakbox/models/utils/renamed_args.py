"""Refuse constructor arguments that were renamed, with a message that names the new one."""
from typing import Any, Dict

#: mmseg's ``with_cp`` became timm's ``grad_checkpointing`` (RADIOViT, ERADIO).
GRAD_CHECKPOINTING_RENAMED = {'with_cp': 'grad_checkpointing'}


def reject_renamed_args(owner: str, kwargs: Dict[str, Any], renamed: Dict[str, str]) -> None:
    """Raise for any keyword left in ``kwargs`` (a constructor's ``**kwargs``).

    Args:
        owner (str): The class, quoted in errors.
        kwargs (dict): The keywords the signature did not take.
        renamed (dict): Old name -> new name.

    Raises:
        TypeError: Naming the new argument for an old one, else the unexpected names.
    """
    for old, new in renamed.items():
        if old in kwargs:
            raise TypeError(f'{owner}: the argument {old!r} is now called {new!r} (timm\'s '
                            f'name); pass {new}={kwargs[old]!r} instead.')
    if kwargs:
        raise TypeError(f'{owner}.__init__() got unexpected keyword arguments: '
                        f'{", ".join(sorted(kwargs))}')
