"""Compile chosen submodules with ``torch.compile``; fall back to eager when that fails."""
import logging
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from sakbox.registry import HOOKS

#: Containers that are never called themselves: their children are compiled instead.
_CONTAINERS = (nn.ModuleDict, nn.ModuleList)


class _CompiledCallWithFallback:
    """A module's compiled ``__call__`` that switches the module to eager on its first error.

    Installed as ``module._compiled_call_impl`` (what ``nn.Module.compile`` sets),
    so the module keeps its class, parameters and state-dict keys. Compilation
    is lazy: errors of the compiler (no C++ compiler, an unsupported op, a
    failing backend) surface at the first call, here. The failed call is then
    re-run eagerly; an error of the module itself is raised again by that run.
    """

    def __init__(self, module: nn.Module, name: str, compiled: Callable) -> None:
        self.module = module
        self.name = name
        self.compiled = compiled

    def __call__(self, *args, **kwargs):
        try:
            return self.compiled(*args, **kwargs)
        except Exception as err:  # any compiler failure means "run eager"
            self.module._compiled_call_impl = None
            print_log(f'CompileHook: torch.compile of {self.name!r} '
                      f'({type(self.module).__name__}) failed, so it runs eagerly from now '
                      f'on: {_describe_error(err)}', logger='current',
                      level=logging.WARNING)
            return self.module._call_impl(*args, **kwargs)


def _describe_error(err: BaseException, limit: int = 300) -> str:
    """``Type: first line`` of ``err`` and of its root cause (dynamo wraps backend errors)."""
    def one(e: BaseException) -> str:
        lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
        text = lines[0] if lines else ''
        text = text if len(text) <= limit else text[:limit] + '...'
        return f'{type(e).__name__}: {text}'

    cause = getattr(err, 'inner_exception', None) or err.__cause__
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    return one(err) if cause is None else f'{one(err)} (caused by {one(cause)})'


def compile_with_fallback(module: nn.Module, name: str, **compile_kwargs) -> bool:
    """Compile ``module`` in place (``nn.Module.compile`` style) with an eager fallback.

    Args:
        module (nn.Module): The module whose calls are compiled.
        name (str): Its name in the model, for the log.
        **compile_kwargs: Arguments of :func:`torch.compile` (``backend``,
            ``mode``, ``dynamic``, ``fullgraph``, ``options``).

    Returns:
        bool: True if the compiled call was installed; False when
        :func:`torch.compile` itself refused (logged, the module stays eager).
    """
    try:
        compiled = torch.compile(module._call_impl, **compile_kwargs)
    except Exception as err:  # e.g. an unsupported Python version
        print_log(f'CompileHook: torch.compile is unavailable for {name!r} '
                  f'({type(module).__name__}), which runs eagerly: {_describe_error(err)}',
                  logger='current', level=logging.WARNING)
        return False
    module._compiled_call_impl = _CompiledCallWithFallback(module, name, compiled)
    return True


def is_compiled(module: nn.Module) -> bool:
    """Whether calls of ``module`` currently go through a compiled function."""
    return getattr(module, '_compiled_call_impl', None) is not None


@HOOKS.register_module()
class CompileHook(Hook):
    """Compile submodules of the model before training, validation or testing.

    Each target is a dotted submodule name of the (unwrapped) model;
    ``ModuleDict`` / ``ModuleList`` targets (e.g. ``decode_heads``) have each
    child compiled. Modules are compiled in place, so parameters, optimizer
    state and checkpoint keys do not change. Nothing crashes when compilation
    does not work: if ``torch.compile`` or the first compiled call of a module
    fails (no C++ compiler, an unsupported op, a failing backend), one warning
    names the module and the error, and that module runs eagerly from then on.

    The priority is ``LOW`` so that hooks that copy the model in ``before_run``
    (e.g. ``EMAHook``) copy the eager modules.

    Modules of one class share compiled code and its recompile budget:
    dynamo recompiles ``_call_impl`` for each module instance whose parameter
    shapes differ (the task heads have different ``num_classes``) and for
    each grad mode (training vs evaluation), and past
    ``torch._dynamo.config.recompile_limit`` (8) it silently runs eagerly.
    The hook therefore raises that limit to ``recompile_limit`` (default:
    8 per compiled module) when it is lower.

    Args:
        targets (Sequence[str]): Submodules to compile. Default:
            ``('student', 'decode_heads')``. Missing names are skipped with
            a warning; it is an error if none exists.
        backend (str | Callable): ``torch.compile`` backend. Default: ``'inductor'``.
        mode (str, optional): ``torch.compile`` mode (e.g. ``'reduce-overhead'``).
        dynamic (bool, optional): ``torch.compile`` dynamic-shape setting.
        fullgraph (bool): Refuse graph breaks. Default: False.
        options (dict, optional): Backend options (not together with ``mode``).
        fallback (bool): Run a module eagerly when its compilation fails.
            With False, compile errors propagate. Default: True.
        recompile_limit (int, optional): Lower bound set on dynamo's
            recompile limit (None: 8 per compiled module).
    """

    priority = 'LOW'

    def __init__(self,
                 targets: Sequence[str] = ('student', 'decode_heads'),
                 backend: Union[str, Callable] = 'inductor',
                 mode: Optional[str] = None,
                 dynamic: Optional[bool] = None,
                 fullgraph: bool = False,
                 options: Optional[dict] = None,
                 fallback: bool = True,
                 recompile_limit: Optional[int] = None) -> None:
        if isinstance(targets, str):
            targets = [targets]
        if not targets:
            raise ValueError('CompileHook needs at least one target submodule name')
        if mode is not None and options is not None:
            raise ValueError('CompileHook: give either mode or options, not both '
                             f'(mode={mode!r}, options={options!r})')
        self.targets = list(targets)
        self.fallback = fallback
        self.recompile_limit = recompile_limit
        self.compile_kwargs: Dict = dict(backend=backend, fullgraph=fullgraph)
        for key, value in (('mode', mode), ('dynamic', dynamic), ('options', options)):
            if value is not None:
                self.compile_kwargs[key] = value
        self.compiled: List[str] = []

    def resolve_targets(self, model: nn.Module) -> Dict[str, nn.Module]:
        """The modules to compile, by dotted name (containers expanded to children).

        Args:
            model (nn.Module): The unwrapped model.

        Returns:
            Dict[str, nn.Module]: ``{name: module}``.

        Raises:
            KeyError: If no target exists in ``model``.
        """
        found: Dict[str, nn.Module] = {}
        for target in self.targets:
            try:
                module = model.get_submodule(target)
            except AttributeError:
                print_log(f'CompileHook: {type(model).__name__} has no submodule {target!r}; '
                          'skipped', logger='current', level=logging.WARNING)
                continue
            if isinstance(module, _CONTAINERS):
                found.update((f'{target}.{k}', m) for k, m in module.named_children())
            else:
                found[target] = module
        if not found:
            children = [n for n, _ in model.named_children()]
            raise KeyError(f'CompileHook: none of the targets {self.targets} is a submodule of '
                           f'{type(model).__name__} (its children: {children})')
        return found

    def compile_model(self, model: nn.Module) -> List[str]:
        """Compile the targets of ``model`` that are not compiled yet.

        Args:
            model (nn.Module): The model, possibly wrapped (DDP).

        Returns:
            List[str]: Names of the modules compiled by this call.
        """
        if is_model_wrapper(model):
            model = model.module
        done = []
        for name, module in self.resolve_targets(model).items():
            if is_compiled(module):
                continue
            if self.fallback:
                ok = compile_with_fallback(module, name, **self.compile_kwargs)
            else:
                module.compile(**self.compile_kwargs)
                ok = True
            if ok:
                done.append(name)
        self.compiled.extend(done)
        if done:
            self._raise_recompile_limit(self.recompile_limit or 8 * len(self.compiled))
            print_log(f'CompileHook: compiling {done} with torch.compile('
                      f'{self._describe_kwargs()}) at their first call', logger='current')
        return done

    @staticmethod
    def _raise_recompile_limit(limit: int) -> None:
        config = torch._dynamo.config
        name = 'recompile_limit' if hasattr(config, 'recompile_limit') else 'cache_size_limit'
        if getattr(config, name, limit) < limit:
            setattr(config, name, limit)

    def _describe_kwargs(self) -> str:
        return ', '.join(f'{k}={getattr(v, "__name__", v)!r}'
                         for k, v in self.compile_kwargs.items())

    def before_run(self, runner) -> None:
        """Compile the targets (train, val and test runs all start here)."""
        self.compile_model(runner.model)
