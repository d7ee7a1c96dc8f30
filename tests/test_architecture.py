"""The rooms of the package import only downwards (docs/architecture.md, "Rooms").

Read from the source with ``ast`` (every import, at module level or inside a
function), so a new upward import fails here with the file and the line.
"""
import ast
import pathlib
from typing import Iterator, Tuple

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'sakbox'

#: room -> rooms it must not import. A room is ``sakbox.<x>`` or ``sakbox.models.<x>``.
FORBIDDEN = {
    'sakbox.structures': {'*'},  # the bottom: nothing of sakbox but itself
    'sakbox.utils': {'sakbox.models', 'sakbox.datasets', 'sakbox.evaluation', 'sakbox.engine',
                     'sakbox.visualization', 'sakbox.apis', 'sakbox.analysis',
                     'sakbox.converters'},
    'sakbox.models': {'sakbox.datasets', 'sakbox.evaluation', 'sakbox.engine', 'sakbox.apis',
                      'sakbox.analysis', 'sakbox.converters', 'sakbox.visualization'},
    'sakbox.models.students': {'sakbox.models.teachers', 'sakbox.models.distillers'},
    'sakbox.models.teachers': {'sakbox.models.students', 'sakbox.models.distillers'},
    'sakbox.models.utils': {'sakbox.models.teachers', 'sakbox.models.students',
                            'sakbox.models.distillers'},
    'sakbox.datasets': {'sakbox.models', 'sakbox.evaluation', 'sakbox.engine', 'sakbox.apis',
                        'sakbox.analysis', 'sakbox.converters'},
    'sakbox.evaluation': {'sakbox.models', 'sakbox.engine', 'sakbox.apis', 'sakbox.analysis',
                          'sakbox.converters'},
    'sakbox.visualization': {'sakbox.models', 'sakbox.datasets', 'sakbox.evaluation',
                             'sakbox.engine', 'sakbox.apis', 'sakbox.analysis'},
    'sakbox.engine': {'sakbox.apis', 'sakbox.analysis', 'sakbox.converters'},
    'sakbox.apis': {'sakbox.analysis', 'sakbox.converters'},
}
#: (file, imported room) pairs that are allowed, each for a reason.
ALLOWED = {
    # register_all_modules imports every room so that their components register.
    ('utils/setup_env.py', 'sakbox.datasets'), ('utils/setup_env.py', 'sakbox.engine'),
    ('utils/setup_env.py', 'sakbox.evaluation'), ('utils/setup_env.py', 'sakbox.models'),
    ('utils/setup_env.py', 'sakbox.visualization'),
    # The teacher-feature cache writes what the teachers compute: extraction builds
    # them, and the index spells out a teacher config's input_norm default (lazily).
    ('datasets/feature_cache/extraction.py', 'sakbox.models'),
    ('datasets/feature_cache/index.py', 'sakbox.models'),
}


def _room(module: str) -> str:
    parts = module.split('.')
    if len(parts) > 2 and parts[1] == 'models':
        return '.'.join(parts[:3])
    return '.'.join(parts[:2])


def _imports(path: pathlib.Path) -> Iterator[Tuple[str, int]]:
    rel = path.relative_to(PACKAGE.parent).with_suffix('')
    package = list(rel.parts if path.name == '__init__.py' else rel.parts[:-1])
    if path.name == '__init__.py':
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                yield '.'.join(base + ([node.module] if node.module else [])), node.lineno
            elif node.module:
                yield node.module, node.lineno


def _violations():
    found = []
    for path in sorted(PACKAGE.rglob('*.py')):
        rel = path.relative_to(PACKAGE).as_posix()
        module = 'sakbox.' + rel[:-3].replace('/', '.')
        rooms = [r for r in FORBIDDEN if module == r or module.startswith(r + '.')]
        for target, line in _imports(path):
            if target.startswith('tools'):
                found.append(f'{rel}:{line} imports a tool script ({target})')
            if not target.startswith('sakbox.'):
                continue
            troom = _room(target)
            for room in rooms:
                banned = FORBIDDEN[room]
                hit = ('*' in banned and not troom.startswith(room)) or any(
                    troom == b or troom.startswith(b + '.') for b in banned)
                allowed = any(rel == f and (troom == r or troom.startswith(r + '.'))
                              for f, r in ALLOWED)
                if hit and not allowed:
                    found.append(f'{rel}:{line} ({room}) imports {target}')
    return found


def test_rooms_import_only_downwards():
    assert _violations() == []


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a students module importing the teachers is reported."""
    fake = tmp_path / 'sakbox'
    (fake / 'models' / 'students').mkdir(parents=True)
    (fake / 'models' / 'students' / 'bad.py').write_text(
        'from ..teachers.builder import build_teachers\n')
    monkeypatch.setattr(__import__(__name__, fromlist=['PACKAGE']), 'PACKAGE', fake)
    assert _violations() == [
        'models/students/bad.py:1 (sakbox.models.students) imports '
        'sakbox.models.teachers.builder']
