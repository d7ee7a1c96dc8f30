"""Install sakbox: ``pip install -e .`` (add ``[tests]`` / ``[optional]``).

Installs also expose ``tools/``, ``configs/`` and ``model-index.yml`` as
``sakbox/.mim/`` (linked for editable installs, copied into wheels), the layout
OpenMMLab's ``mim`` reads (``mim search sakbox``).
"""
import os
import os.path as osp
import platform
import shutil
from typing import List

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.develop import develop

HERE = osp.dirname(osp.abspath(__file__))
#: What OpenMMLab's mim reads from ``<package>/.mim/`` (``mim search``, ``mim train``, ...),
#: each relative to the repo root.
MIM_FILES = ('tools', 'configs', 'model-index.yml')


def read_version() -> str:
    """Read ``__version__`` from ``sakbox/version.py`` without importing it."""
    scope: dict = {}
    with open(osp.join(HERE, 'sakbox', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def parse_requirements(name: str) -> list:
    """Read ``requirements/<name>.txt``, dropping comments and blank lines."""
    reqs = []
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-r'):
                reqs.append(line)
    return reqs


def _remove(path: str) -> None:
    """Remove a file, a link (never what it points to) or a folder."""
    if osp.islink(path) or osp.isfile(path):
        os.remove(path)
    elif osp.isdir(path):
        shutil.rmtree(path)


def mim_link_mode() -> str:
    """How an editable install exposes the mim files: links, except on Windows, where
    creating symlinks usually needs privileges."""
    return 'copy' if platform.system() == 'Windows' else 'symlink'


def build_mim_tree(repo_root: str, package_dir: str, mode: str) -> List[str]:
    """Fill ``<package_dir>/.mim`` with the repo's ``tools``, ``configs`` and
    ``model-index.yml`` (mim's extension layout, as OpenMMLab packages ship it).

    Args:
        repo_root (str): Folder holding the files of ``MIM_FILES``.
        package_dir (str): The ``sakbox`` package folder to fill: the source tree for
            editable installs, the build folder (``build_lib/sakbox``) for wheels.
        mode (str): ``'symlink'``: relative links into the repo, so an editable install
            sees every later edit; ``'copy'``: real copies, for wheels.

    Returns:
        list[str]: The paths created under ``<package_dir>/.mim``.
    """
    if mode not in ('symlink', 'copy'):
        raise ValueError(f"build_mim_tree: mode must be 'symlink' or 'copy', got {mode!r}")
    missing = [n for n in MIM_FILES if not osp.exists(osp.join(repo_root, n))]
    if missing:
        raise FileNotFoundError(
            f'build_mim_tree: {missing} not found in {repo_root} (an sdist needs them: '
            'see MANIFEST.in)')
    mim_dir = osp.join(package_dir, '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    made = []
    for name in MIM_FILES:
        src, dst = osp.join(repo_root, name), osp.join(mim_dir, name)
        _remove(dst)  # a link or copy of an earlier install, whatever the mode was
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)
        made.append(dst)
    return made


class BuildPyWithMim(build_py):
    """``build_py`` that also builds ``sakbox/.mim``: copies into the build folder for a
    wheel (``pip install .``, ``bdist_wheel``), links in the source tree for an editable
    install (PEP 660 ``pip install -e .`` runs ``build_py`` with ``editable_mode``)."""

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            build_mim_tree(HERE, osp.join(HERE, 'sakbox'), mim_link_mode())
        else:
            build_mim_tree(HERE, osp.join(self.build_lib, 'sakbox'), 'copy')


class DevelopWithMim(develop):
    """Legacy ``setup.py develop`` (setuptools < 64, or pip without PEP 660 support):
    link the mim files in the source tree."""

    def run(self) -> None:
        build_mim_tree(HERE, osp.join(HERE, 'sakbox'), mim_link_mode())
        super().run()


def main() -> None:
    """Run setuptools (only when executed, so that tests can import the helpers)."""
    setup(
        name='sakbox',
        version=read_version(),
        description='OpenMMLab-style toolbox for merging vision foundation models '
        '(SAK multi-task distillation, AM-RADIO agglomerative distillation)',
        long_description=open(osp.join(HERE, 'README.md')).read()
        if osp.exists(osp.join(HERE, 'README.md')) else '',
        long_description_content_type='text/markdown',
        # 'x.*' too: find_packages would otherwise take tests/'s sub-packages
        packages=find_packages(exclude=('configs', 'configs.*', 'tools', 'tools.*',
                                        'tests', 'tests.*', 'demo', 'demo.*')),
        include_package_data=True,
        python_requires='>=3.9',
        install_requires=parse_requirements('runtime'),
        extras_require=dict(
            tests=parse_requirements('tests'),
            optional=parse_requirements('optional'),
            all=parse_requirements('tests') + parse_requirements('optional'),
        ),
        license='Apache-2.0',
        zip_safe=False,
        # tools/, configs/ and model-index.yml as sakbox/.mim for OpenMMLab's mim
        cmdclass=dict(build_py=BuildPyWithMim, develop=DevelopWithMim),
    )


if __name__ == '__main__':
    main()
