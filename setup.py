"""Install sakbox: ``pip install -e .`` (add ``[tests]`` / ``[optional]``)."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


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


setup(
    name='sakbox',
    version=read_version(),
    description='OpenMMLab-style toolbox for merging vision foundation models '
    '(SAK multi-task distillation, AM-RADIO agglomerative distillation)',
    long_description=open(osp.join(HERE, 'README.md')).read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
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
)
