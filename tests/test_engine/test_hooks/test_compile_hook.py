"""CompileHook: in-place compilation of named submodules, eager fallback when it fails."""
import logging
import shutil
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModel

from sakbox.engine.hooks import CompileHook
from sakbox.engine.hooks.compile_hook import is_compiled
from sakbox.registry import HOOKS

FAILING = '_sakbox_test_failing_backend'
COUNTING = '_sakbox_test_counting_backend'
GRAPHS = []


def _failing_backend(gm, example_inputs):
    raise RuntimeError('this backend cannot compile anything')


def _counting_backend(gm, example_inputs):
    GRAPHS.append(gm)
    return gm.forward  # runs the captured graph eagerly


for _name, _fn in ((FAILING, _failing_backend), (COUNTING, _counting_backend)):
    if _name not in torch._dynamo.list_backends(exclude_tags=()):
        torch._dynamo.register_backend(name=_name)(_fn)


class TinyDistiller(BaseModel):
    """A student, two heads in a ModuleDict and an uncompiled extra."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.student = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GELU())
        self.decode_heads = nn.ModuleDict(dict(a=nn.Conv2d(8, 2, 1), b=nn.Conv2d(8, 1, 1)))
        self.other = nn.Linear(2, 2)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        feats = self.student(inputs)
        out = {k: h(feats) for k, h in self.decode_heads.items()}
        if mode == 'loss':
            return dict(loss=sum(o.square().mean() for o in out.values()))
        return out


@pytest.fixture(autouse=True)
def keep_recompile_limit():
    """The hook raises dynamo's global recompile limit: restore it after each test."""
    config = torch._dynamo.config
    before = config.recompile_limit
    yield
    config.recompile_limit = before


@pytest.fixture
def warnings_log():
    """Records the WARNING lines of the current MMEngine logger."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep(level=logging.WARNING)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def run(model, x):
    return {k: v.detach() for k, v in model(x).items()}


def test_failing_backend_falls_back_to_eager_with_one_warning(warnings_log):
    model, ref = TinyDistiller(), TinyDistiller()
    hook = CompileHook(backend=FAILING)
    hook.before_run(SimpleNamespace(model=model))
    assert hook.compiled == ['student', 'decode_heads.a', 'decode_heads.b']
    assert is_compiled(model.student) and is_compiled(model.decode_heads.a)
    assert not is_compiled(model.other)
    x = torch.randn(2, 3, 8, 8)
    for _ in range(2):  # the second call runs eagerly without a new warning
        out, expected = run(model, x), run(ref, x)
        assert out.keys() == expected.keys()
        for k in out:
            assert torch.equal(out[k], expected[k]), k
    failures = [m for m in warnings_log if 'failed, so it runs eagerly' in m]
    assert len(failures) == 3
    assert any("'student'" in m and 'this backend cannot compile anything' in m
               for m in failures)
    assert not any(is_compiled(m) for m in (model.student, *model.decode_heads.values()))
    assert model.state_dict().keys() == ref.state_dict().keys()


def test_without_fallback_the_compile_error_propagates():
    model = TinyDistiller()
    CompileHook(targets=['student'], backend=FAILING, fallback=False).compile_model(model)
    with pytest.raises(Exception, match='this backend cannot compile anything'):
        model(torch.randn(1, 3, 8, 8))


def test_working_backend_is_used_and_gradients_match():
    model, ref = TinyDistiller(), TinyDistiller()
    GRAPHS.clear()
    hook = HOOKS.build(dict(type='CompileHook', backend=COUNTING))
    hook.before_run(SimpleNamespace(model=model))
    assert hook.compile_model(model) == []  # compiling twice changes nothing
    x = torch.randn(2, 3, 8, 8)
    losses = [m(x, mode='loss')['loss'] for m in (model, ref)]
    for loss in losses:
        loss.backward()
    assert len(GRAPHS) >= 3  # student and both heads went through the backend
    torch.testing.assert_close(losses[0], losses[1])
    for (n, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)
    assert model.state_dict().keys() == ref.state_dict().keys()


def test_recompile_limit_covers_every_compiled_module():
    torch._dynamo.config.recompile_limit = 8
    CompileHook(backend=COUNTING).compile_model(TinyDistiller())
    assert torch._dynamo.config.recompile_limit == 24  # 8 per module, 3 modules
    CompileHook(backend=COUNTING, recompile_limit=4).compile_model(TinyDistiller())
    assert torch._dynamo.config.recompile_limit == 24  # never lowered


def test_missing_targets_are_skipped_and_none_is_an_error(warnings_log):
    model = TinyDistiller()
    hook = CompileHook(targets=['student', 'no_such_module'], backend=COUNTING)
    assert hook.compile_model(model) == ['student']
    assert any("no submodule 'no_such_module'" in m for m in warnings_log)
    with pytest.raises(KeyError, match=r"none of the targets \['nothing'\].*student"):
        CompileHook(targets=['nothing']).compile_model(model)
    with pytest.raises(ValueError, match='either mode or options'):
        CompileHook(mode='max-autotune', options=dict(a=1))


def test_torch_compile_refusing_leaves_the_module_eager(monkeypatch, warnings_log):
    def refuse(*args, **kwargs):
        raise RuntimeError('Dynamo is not supported here')

    monkeypatch.setattr(torch, 'compile', refuse)
    model = TinyDistiller()
    assert CompileHook(targets=['student']).compile_model(model) == []
    assert not is_compiled(model.student)
    assert any('torch.compile is unavailable' in m for m in warnings_log)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which('c++') is None and shutil.which('g++') is None,
                    reason='inductor on the CPU needs a C++ compiler')
def test_inductor_output_matches_eager():
    # Compiling even a tiny module with inductor takes 10-60 s on a CPU (C++ build).
    model, ref = TinyDistiller(), TinyDistiller()
    CompileHook(targets=['student']).compile_model(model)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        out, expected = model(x), ref(x)
    assert is_compiled(model.student)  # inductor worked: no fallback happened
    for k in out:
        torch.testing.assert_close(out[k], expected[k], rtol=1e-4, atol=1e-5)
