"""tools/model_converters/publish_model.py on a checkpoint of a real tiny training run (the
work is sakbox.utils.publish_checkpoint, tested in tests/test_utils/test_publish_checkpoint.py)."""
import hashlib
import os.path as osp
import runpy
import sys

import pytest
import torch

from sakbox.apis import init_model
from tests.test_tools.conftest import TOY_CFG
from tests.utils import REPO_ROOT, load_tool


def test_published_real_checkpoint_loads_strictly_with_the_same_outputs(toy_run, tmp_path,
                                                                         capsys):
    src = osp.join(toy_run, 'iter_6.pth')
    tool = load_tool('tools/model_converters/publish_model.py')
    final = tool.main([src, str(tmp_path / 'toy.pth')])
    with open(final, 'rb') as f:
        assert osp.basename(final) == f'toy-{hashlib.sha256(f.read()).hexdigest()[:8]}.pth'
    out = capsys.readouterr().out
    assert 'dropped message_hub, optimizer, param_schedulers' in out
    assert out.strip().splitlines()[-1] == final
    assert sorted(torch.load(final, weights_only=True)) == ['meta', 'state_dict']
    cfg = osp.join(REPO_ROOT, TOY_CFG)
    original, published = init_model(cfg, src), init_model(cfg, final)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(original(x), published(x))


def test_a_non_checkpoint_exits_non_zero_naming_the_file(tmp_path, monkeypatch):
    bad = tmp_path / 'page.pth'
    bad.write_text('<html>login</html>')
    script = osp.join(REPO_ROOT, 'tools', 'model_converters', 'publish_model.py')
    monkeypatch.setattr(sys, 'argv', [script, str(bad), str(tmp_path / 'out.pth')])
    with pytest.raises(SystemExit) as exit_info:  # the script's own __main__ wiring
        runpy.run_path(script, run_name='__main__')
    # sys.exit(message): exit status 1, the message (no traceback) on stderr
    assert exit_info.value.code == (f'tools/model_converters/publish_model.py: error: {bad} is '
                                    'not a PyTorch checkpoint: it is an HTML page (a login or '
                                    'error page saved instead of the file?) (18 bytes). Expected '
                                    'a torch.save (.pth) or .safetensors file.')
    assert not list(tmp_path.glob('out*'))
