"""`import sakbox` is light: no mmcv.ops, no network, no model code."""
import subprocess
import sys

from tests.utils import REPO_ROOT

PROBE = r'''
import socket, sys
def _no_network(*a, **k):
    raise AssertionError('sakbox touched the network at import')
socket.socket.connect = _no_network
socket.create_connection = _no_network
import sakbox
import sakbox.registry, sakbox.structures
from sakbox.utils import register_all_modules
register_all_modules()
bad = [m for m in sys.modules if m.startswith('mmcv.ops') or m == 'mmcv._ext']
assert not bad, bad
print('ok', sakbox.__version__)
'''


def test_import_sakbox_never_imports_mmcv_ops_nor_touches_network():
    proc = subprocess.run([sys.executable, '-c', PROBE], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith('ok')


def test_bare_import_does_not_import_models():
    proc = subprocess.run(
        [sys.executable, '-c', 'import sys, sakbox; print("timm" in sys.modules, '
         '"sakbox.models" in sys.modules)'], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=120)
    assert proc.stdout.split() == ['False', 'False'], proc.stdout + proc.stderr
