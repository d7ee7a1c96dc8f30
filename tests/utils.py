"""Helpers shared by tests that run the command-line tools."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys
from types import ModuleType
from typing import List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_tool(args: List[str], env: Optional[dict] = None, timeout: int = 600,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run ``args`` (a tool command line) from the repo root and capture output."""
    full_env = dict(os.environ)
    full_env.update(HF_HUB_OFFLINE='1', PYTHONPATH=REPO_ROOT + os.pathsep
                    + full_env.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    if env:
        full_env.update(env)
    if args[0].endswith('.py'):
        args = [sys.executable] + args
    proc = subprocess.run(args, cwd=REPO_ROOT, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(args)} exited {proc.returncode}\n'
                             f'stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-6000:]}')
    return proc


def load_tool(rel_path: str) -> ModuleType:
    """Import a script of the repo (e.g. ``'tools/analysis_tools/benchmark_train.py'``).

    The module is executed under the name ``_tool_<file name>`` (never ``__main__``,
    so its command line does not run) and is not added to ``sys.modules``.

    Only for tests of a script's own wiring (argument parsing, printing, the
    work it hands to the package, e.g. one ``main([...])`` smoke test per CLI or
    the subprocess orchestration of ``compare_configs.py`` / the per-phase
    processes of ``benchmark_test_memory.py``): the logic behind every tool lives
    in ``sakbox`` and its tests import the package, never a script.
    """
    path = osp.join(REPO_ROOT, rel_path)
    name = '_tool_' + osp.splitext(osp.basename(rel_path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """An unused local TCP port."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
