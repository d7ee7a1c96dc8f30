"""setup.py's mim extension: ``sakbox/.mim`` holds the repo's tools, configs and model index
(linked for editable installs, copied for wheels), and sdists carry what it needs."""
import importlib.util
import os
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def setup_module():
    # imported under another name, setup.py defines its helpers without running setup()
    spec = importlib.util.spec_from_file_location('sakbox_setup', osp.join(ROOT, 'setup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def repo(tmp_path):
    """A minimal copy of the repo layout the mim extension reads."""
    (tmp_path / 'tools' / 'analysis_tools').mkdir(parents=True)
    (tmp_path / 'tools' / 'train.py').write_text('# train\n')
    (tmp_path / 'tools' / 'analysis_tools' / '__pycache__').mkdir()
    (tmp_path / 'tools' / 'analysis_tools' / '__pycache__' / 'x.cpython-311.pyc').write_bytes(
        b'\0')
    (tmp_path / 'tools' / 'analysis_tools' / 'bench.py').write_text('# bench\n')
    (tmp_path / 'configs' / 'sak').mkdir(parents=True)
    (tmp_path / 'configs' / 'sak' / 'a.py').write_text("x = 1\n")
    (tmp_path / 'model-index.yml').write_text('Import: []\n')
    (tmp_path / 'sakbox').mkdir()
    return tmp_path


def test_mim_files_exist_in_the_repo(setup_module):
    assert setup_module.MIM_FILES == ('tools', 'configs', 'model-index.yml')
    assert all(osp.exists(osp.join(ROOT, n)) for n in setup_module.MIM_FILES)


def test_symlink_mode_links_relatively_and_follows_edits(setup_module, repo):
    made = setup_module.build_mim_tree(str(repo), str(repo / 'sakbox'), 'symlink')
    mim = repo / 'sakbox' / '.mim'
    assert made == [str(mim / n) for n in setup_module.MIM_FILES]
    for name in setup_module.MIM_FILES:
        link = mim / name
        assert link.is_symlink() and not osp.isabs(os.readlink(link))
        assert link.resolve() == (repo / name).resolve()
    (repo / 'configs' / 'sak' / 'a.py').write_text('x = 2\n')
    assert (mim / 'configs' / 'sak' / 'a.py').read_text() == 'x = 2\n'
    # a second install replaces the links
    setup_module.build_mim_tree(str(repo), str(repo / 'sakbox'), 'symlink')
    assert (mim / 'tools').is_symlink()


def test_copy_mode_copies_without_caches(setup_module, repo):
    build = repo / 'build' / 'lib' / 'sakbox'
    setup_module.build_mim_tree(str(repo), str(build), 'copy')
    mim = build / '.mim'
    assert not any(p.is_symlink() for p in mim.rglob('*'))
    assert (mim / 'configs' / 'sak' / 'a.py').read_text() == 'x = 1\n'
    assert (mim / 'tools' / 'analysis_tools' / 'bench.py').is_file()
    assert not (mim / 'tools' / 'analysis_tools' / '__pycache__').exists()
    assert (mim / 'model-index.yml').read_text() == 'Import: []\n'
    (repo / 'configs' / 'sak' / 'a.py').write_text('x = 3\n')
    assert (mim / 'configs' / 'sak' / 'a.py').read_text() == 'x = 1\n'  # a real copy


def test_copy_over_links_keeps_the_sources(setup_module, repo):
    """Switching from an editable to a regular install must not delete the repo's files."""
    setup_module.build_mim_tree(str(repo), str(repo / 'sakbox'), 'symlink')
    setup_module.build_mim_tree(str(repo), str(repo / 'sakbox'), 'copy')
    assert (repo / 'configs' / 'sak' / 'a.py').read_text() == 'x = 1\n'
    assert (repo / 'tools' / 'train.py').is_file()
    assert not (repo / 'sakbox' / '.mim' / 'configs').is_symlink()
    setup_module.build_mim_tree(str(repo), str(repo / 'sakbox'), 'symlink')  # and back
    assert (repo / 'sakbox' / '.mim' / 'configs').is_symlink()
    assert (repo / 'configs' / 'sak' / 'a.py').is_file()


def test_bad_mode_and_missing_files_name_the_problem(setup_module, repo):
    with pytest.raises(ValueError, match="'hardlink'"):
        setup_module.build_mim_tree(str(repo), str(repo / 'sakbox'), 'hardlink')
    (repo / 'model-index.yml').unlink()
    with pytest.raises(FileNotFoundError, match='model-index.yml'):
        setup_module.build_mim_tree(str(repo), str(repo / 'sakbox'), 'copy')


def test_manifest_ships_the_mim_sources():
    with open(osp.join(ROOT, 'MANIFEST.in')) as f:
        rules = [line.split() for line in f if line.strip() and not line.startswith('#')]
    assert ['include', 'model-index.yml'] in rules
    assert ['include', 'requirements/*.txt'] in rules
    assert ['recursive-include', 'configs', '*.py', '*.md', '*.yml'] in rules
    assert ['recursive-include', 'tools', '*.py', '*.sh'] in rules
    assert ['prune', 'sakbox/.mim'] in rules


def _command(setup_module, cls, **options):
    from setuptools.dist import Distribution
    cmd = cls(Distribution(dict(name='sakbox', packages=[])))
    cmd.initialize_options()
    for key, value in options.items():
        setattr(cmd, key, value)
    cmd.finalize_options()
    return cmd


@pytest.mark.parametrize('editable', [False, True])
def test_build_py_copies_for_wheels_and_links_for_editable_installs(setup_module, repo,
                                                                    monkeypatch, editable):
    monkeypatch.setattr(setup_module, 'HERE', str(repo))
    build_lib = repo / 'build' / 'lib'
    cmd = _command(setup_module, setup_module.BuildPyWithMim, build_lib=str(build_lib))
    cmd.editable_mode = editable
    cmd.run()
    if editable:  # PEP 660: the source tree is what gets imported
        assert (repo / 'sakbox' / '.mim' / 'configs').is_symlink()
        assert not (build_lib / 'sakbox' / '.mim').exists()
    else:
        assert (build_lib / 'sakbox' / '.mim' / 'configs' / 'sak' / 'a.py').is_file()
        assert not (build_lib / 'sakbox' / '.mim' / 'configs').is_symlink()
        assert not (repo / 'sakbox' / '.mim').exists()  # the source tree is left alone
