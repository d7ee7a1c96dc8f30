"""The mim model index (model-index.yml + configs/*/metafile.yml) parses with OpenMMLab's
``modelindex``, lists every full config once and says what the configs do."""
import os.path as osp

import modelindex
import pytest
import yaml
from mmengine.config import Config

from tests.fixtures.config_names import (
    MODEL_FOLDERS,
    PUBLIC_ALIASES,
    ROOT,
    SAK_NYUD,
    crop_of,
    full_configs,
    parse_config_name,
    schedule_of,
)

INDEX = osp.join(ROOT, 'model-index.yml')
COLLECTION_KEYS = ('Name', 'Metadata', 'Paper', 'README', 'Code')
COLLECTION_METADATA = ('Training Data', 'Training Techniques', 'Training Resources',
                       'Architecture')


@pytest.fixture(scope='module')
def index():
    # modelindex resolves imports relative to the index file's folder
    return modelindex.load(INDEX)


def _metafile(folder: str) -> dict:
    with open(osp.join(ROOT, folder, 'metafile.yml')) as f:
        return yaml.safe_load(f)


def test_index_imports_one_metafile_per_model_folder():
    with open(INDEX) as f:
        raw = yaml.safe_load(f)
    assert raw == {'Import': [f'{folder}/metafile.yml' for folder in MODEL_FOLDERS]}


def test_modelindex_parses_without_errors(index):
    assert [c.name for c in index.collections] == ['SAK', 'AM-RADIO']
    # modelindex resolves README against the metafile's folder, mim (and OpenMMLab's
    # metafiles) against the repo root, as for Config: accept only that one complaint, and
    # only for READMEs that exist from the root.
    root_readme = {f'{osp.relpath(c.filepath, ROOT)}: Collections[{i}]: Path to README '
                   f'file {c.readme} is not a valid file.'
                   for i, c in enumerate(index.collections)
                   if osp.isfile(osp.join(ROOT, c.readme))}
    errors = set(index.check(silent=True))
    assert errors <= root_readme, errors - root_readme


def test_every_model_names_an_existing_config_and_a_known_collection(index):
    collections = {c.name for c in index.collections}
    names = [m.name for m in index.models]
    assert len(names) == len(set(names)), 'model names must be unique'
    for model in index.models:
        assert model.in_collection in collections, model.name
        assert osp.isfile(osp.join(ROOT, model.config)), model.config
        assert model.name == osp.splitext(osp.basename(model.config))[0]
        # nothing is trained or released: no invented numbers, no dead links
        assert model.results is None and model.weights is None, model.name


@pytest.mark.parametrize('folder', MODEL_FOLDERS)
def test_metafile_lists_every_full_config_of_its_folder_once(folder):
    listed = [m['Config'] for m in _metafile(folder)['Models']]
    assert sorted(listed) == full_configs(folder, absolute=False)
    assert not set(listed) & set(PUBLIC_ALIASES), 'aliases are not models of their own'


@pytest.mark.parametrize('folder', MODEL_FOLDERS)
def test_collection_has_the_openmmlab_fields(folder):
    (collection,) = _metafile(folder)['Collections']
    assert set(COLLECTION_KEYS) <= set(collection), folder
    assert set(COLLECTION_METADATA) <= set(collection['Metadata'])
    assert set(collection['Paper']) == {'URL', 'Title'}
    assert collection['Paper']['URL'].startswith('https://arxiv.org/abs/')
    assert set(collection['Code']) == {'URL', 'Version'}
    # sakbox has no public URL: Code points at the implementation inside the repo
    assert osp.isfile(osp.join(ROOT, collection['Code']['URL']))
    assert collection['README'] == f'{folder}/README.md'
    assert osp.isfile(osp.join(ROOT, collection['README']))
    from sakbox.version import __version__
    assert collection['Code']['Version'] == f'v{__version__}'


@pytest.mark.parametrize('folder', MODEL_FOLDERS)
def test_model_metadata_match_the_configs(folder):
    for model in _metafile(folder)['Models']:
        meta, path = model['Metadata'], model['Config']
        cfg = Config.fromfile(osp.join(ROOT, path))
        fields = parse_config_name(path)
        h, w = crop_of(cfg)
        assert meta['Crop Size'] == f'{h}x{w}', path
        assert meta['Batch Size'] == int(fields['gpus']) * cfg.train_dataloader.batch_size
        kind, n = schedule_of(cfg.train_cfg)
        assert meta['Iterations' if kind == 'iters' else 'Epochs'] == n, path
        assert 'Training Data' in meta, path
        tasks = cfg.model.get('tasks')
        assert meta.get('Tasks') == (list(tasks) if tasks else None), path
        if cfg.get('test_dataloader'):
            assert f'{h}x{w}' in meta['Inference'], path


def test_public_names_are_recorded_with_their_target():
    models = {m['Config']: m['Metadata'] for m in _metafile('configs/sak')['Models']}
    expected = {}
    for alias, target in list(PUBLIC_ALIASES.items()) + [SAK_NYUD]:
        expected.setdefault(target, []).append(alias)
    for path, meta in models.items():
        assert meta.get('Public Names') == (sorted(expected[path]) if path in expected
                                            else None), path
