"""The router expert order, saved with the weights.

The routers mix ``[stem, *teachers]`` in the order of the distiller's
``teachers`` dict. MMEngine writes configs back (``work_dir/<config>.py``) with
sorted dict keys, so a model built from such a file may list its teachers in
another order than the one its checkpoint was trained with. Each teacher's
expert index is therefore a buffer (``expert_order.<teacher>``); on load the
routers' per-expert parameters are permuted from the checkpoint's order to the
model's, and a checkpoint naming other teachers is refused naming both orders.
"""
from typing import List, Optional, Sequence

import torch
from mmengine.logging import print_log
from torch import nn

#: State-dict prefix of the recorded order (``expert_order.<teacher>`` = expert index).
EXPERT_ORDER_PREFIX = 'expert_order.'


class ExpertOrder(nn.Module):
    """Buffers ``<teacher>`` = the teacher's router expert index (the stem is expert 0).

    Args:
        teacher_names (Sequence[str]): Teachers in expert order.
    """

    def __init__(self, teacher_names: Sequence[str]) -> None:
        super().__init__()
        self.teacher_names = list(teacher_names)
        for i, name in enumerate(self.teacher_names):
            self.register_buffer(name, torch.tensor(i + 1, dtype=torch.long))

    def expert_names(self) -> List[str]:
        """``['stem', *teacher_names]``."""
        return ['stem'] + self.teacher_names


def fill_expert_order(order: ExpertOrder, state_dict: dict, prefix: str = '') -> None:
    """Give a state dict without a recorded order (an older checkpoint) the model's.

    Args:
        order (ExpertOrder): The model's ``expert_order``.
        state_dict (dict): The state dict (changed in place).
        prefix (str): The model's key prefix.
    """
    if saved_expert_names(state_dict, prefix) is None:
        for name in order.teacher_names:
            state_dict[prefix + EXPERT_ORDER_PREFIX + name] = getattr(order, name).detach().clone()


def saved_expert_names(state_dict: dict, prefix: str = '') -> Optional[List[str]]:
    """The expert order recorded in a state dict, None if it records none.

    Args:
        state_dict (dict): A distiller's state dict.
        prefix (str): The distiller's key prefix.

    Returns:
        List[str] | None: ``['stem', *teachers]`` in the checkpoint's order.
    """
    head = prefix + EXPERT_ORDER_PREFIX
    saved = {k[len(head):]: int(v) for k, v in state_dict.items() if k.startswith(head)}
    if not saved:
        return None
    return ['stem'] + sorted(saved, key=saved.get)


def align_expert_order(model: nn.Module, state_dict: dict, prefix: str,
                       error_msgs: list) -> None:
    """Bring a state dict about to be loaded into ``model``'s expert order.

    A checkpoint without a recorded order (older ones) is taken to be in the
    model's order, as before. One with the same teachers in another order has
    every router's per-expert parameters permuted (``reorder_expert_state``) and
    its record replaced by the model's; other teachers add an error naming both
    orders (``load_state_dict`` raises it).

    Args:
        model (nn.Module): A distiller with ``expert_names`` and an
            :class:`ExpertOrder` ``expert_order``.
        state_dict (dict): The state dict (changed in place).
        prefix (str): The model's key prefix.
        error_msgs (list): ``load_state_dict``'s error list.
    """
    own = model.expert_order
    saved = saved_expert_names(state_dict, prefix)
    head = prefix + EXPERT_ORDER_PREFIX
    if saved is None or saved == own.expert_names():
        fill_expert_order(own, state_dict, prefix)
        return
    if sorted(saved) != sorted(own.expert_names()):
        error_msgs.append(f'{type(model).__name__}: the checkpoint was trained with router '
                          f'experts {saved}, this model has {own.expert_names()} (other '
                          'teachers): its routers cannot be loaded')
        return
    order = [saved.index(name) for name in own.expert_names()]
    moved = []
    for name, module in model.named_modules():
        if hasattr(module, 'reorder_expert_state') and \
                getattr(module, 'num_experts', None) == len(order):
            module.reorder_expert_state(state_dict, f'{prefix}{name}.', order)
            moved.append(name)
    for name in own.teacher_names:
        state_dict[head + name] = getattr(own, name).detach().clone()
    print_log(f'{type(model).__name__}: the checkpoint\'s router experts are {saved}, the '
              f'model\'s {own.expert_names()} (the config lists the teachers in another '
              f'order); reordered the experts of {len(moved)} routers', logger='current')
