"""docs/tools.md lists every script in tools/ (with its usage)."""
import os
import os.path as osp

from tests.utils import REPO_ROOT


def _tools():
    root = osp.join(REPO_ROOT, 'tools')
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(('.py', '.sh')) and name != '__init__.py':
                yield osp.relpath(osp.join(folder, name), REPO_ROOT)


def test_every_tool_has_a_line_and_a_usage():
    with open(osp.join(REPO_ROOT, 'docs', 'tools.md'), encoding='utf-8') as f:
        doc = f.read()
    tools = sorted(_tools())
    assert len(tools) > 20
    missing_line = [t for t in tools if f'`{t}`' not in doc and f'`{osp.basename(t)}`' not in doc]
    missing_usage = [t for t in tools if f' {t} ' not in doc and not doc.count(f' {t}\n')]
    assert missing_line == [] and missing_usage == []
