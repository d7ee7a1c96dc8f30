"""compare_state_dict / load_state_dict_checked / load_state_dict_file / load_state_dict_strict
and the origin hints, on tiny modules."""
import argparse
import logging
import re

import pytest
import torch
import torch.nn as nn

from sakbox.utils import (
    CheckpointMismatchError,
    compare_state_dict,
    extract_state_dict,
    load_state_dict_checked,
    load_state_dict_file,
    load_state_dict_strict,
    strip_wrapper_prefixes,
)
from sakbox.utils.checkpoint_origin import checkpoint_origin_hint
from tests.fixtures.official_sak_checkpoints import (
    official_multitask_state_dict,
    official_sak_state_dict,
    official_training_checkpoint,
)


class Tiny(nn.Module):
    """student.proj (Linear 3->4) + decode_heads.seg (Conv 4->2) + decode_heads.bn: 9 tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.student = nn.ModuleDict(dict(proj=nn.Linear(3, 4)))
        self.decode_heads = nn.ModuleDict(dict(seg=nn.Conv2d(4, 2, 1), bn=nn.BatchNorm2d(2)))


def _shifted(model):
    return {k: v + 1 if v.is_floating_point() else v + 5 for k, v in model.state_dict().items()}


def test_complete_fit_strips_ddp_prefix_and_ignores_teachers():
    model = Tiny()
    sd = {f'module.{k}': v for k, v in _shifted(model).items()}
    sd['teachers.dino.w'] = torch.zeros(1)
    fit = compare_state_dict(model, sd, 'x.pth')
    assert fit.complete and fit.num_model == len(model.state_dict()) == 9
    assert fit.ignored == ['teachers.dino.w']
    assert fit.summary() == 'loaded 9 of 9 model tensors; 1 teachers.* keys ignored'


def test_missing_unexpected_and_mismatched_are_counted_and_named():
    model = Tiny()
    sd = _shifted(model)
    sd.pop('student.proj.bias')
    sd['decode_heads.seg.weight'] = torch.zeros(3, 4, 1, 1)
    sd['decode_heads.depth.weight'] = torch.zeros(1)
    fit = compare_state_dict(model, sd, 'x.pth')
    assert fit.missing == ['student.proj.bias']
    assert fit.unexpected == ['decode_heads.depth.weight']
    assert fit.mismatched == [('decode_heads.seg.weight', (3, 4, 1, 1), (2, 4, 1, 1))]
    assert fit.summary() == (
        'loaded 7 of 9 model tensors; 1 missing (first: student.proj.bias); 1 unexpected '
        '(first: decode_heads.depth.weight); 1 with another shape (first: '
        'decode_heads.seg.weight: checkpoint (3, 4, 1, 1) vs model (2, 4, 1, 1))')


def test_summary_names_only_the_first_keys():
    fit = compare_state_dict(Tiny(), {}, 'x.pth')
    assert re.search(r'loaded 0 of 9 model tensors; 9 missing \(first: [^)]*\.\.\. '
                     r'\(\+6 more\)\)$', fit.summary(limit=3)), fit.summary(limit=3)


def test_extract_state_dict_unwraps_mmengine_and_official_layouts():
    sd = Tiny().state_dict()
    assert extract_state_dict(dict(meta={}, state_dict=sd)) is sd
    assert extract_state_dict(official_training_checkpoint(sd)) is sd
    assert extract_state_dict(sd) is sd


def test_strict_raises_and_leaves_the_model_untouched():
    model = Tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sd = _shifted(model)
    sd.pop('student.proj.bias')
    with pytest.raises(CheckpointMismatchError) as err:
        load_state_dict_checked(model, dict(state_dict=sd), 'runs/a.pth')
    msg = str(err.value)
    assert msg.startswith('checkpoint runs/a.pth does not fit Tiny: loaded 8 of 9 model '
                          'tensors; 1 missing (first: student.proj.bias).')
    assert err.value.path == 'runs/a.pth'
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_non_strict_loads_what_fits_and_warns_with_counts(caplog):
    model = Tiny()
    bias = model.student.proj.bias.detach().clone()
    sd = _shifted(model)
    sd.pop('student.proj.bias')
    logger = logging.getLogger('sakbox-test-non-strict')
    with caplog.at_level(logging.WARNING, logger=logger.name):
        fit = load_state_dict_checked(model, sd, 'runs/a.pth', strict=False, logger=logger)
    assert len(fit.loaded) == 8 and not fit.complete
    assert torch.equal(model.student.proj.weight, sd['student.proj.weight'])
    assert torch.equal(model.student.proj.bias, bias)  # not in the file: unchanged
    record, = [r for r in caplog.records if r.name == logger.name]
    assert record.levelno == logging.WARNING
    assert 'NON-STRICT LOAD of runs/a.pth into Tiny: loaded 8 of 9 model tensors; 1 missing' \
        in record.getMessage()


def test_official_sak_hint_names_the_converter():
    model = Tiny()
    for ckpt in (official_training_checkpoint(official_multitask_state_dict()),
                 official_sak_state_dict()):
        fit = compare_state_dict(model, extract_state_dict(ckpt), 'sak.pth')
        hint = checkpoint_origin_hint(ckpt, fit)
        assert hint.startswith('Hint: sak.pth looks like an official SAK release (keys such '
                               'as ') and 'tsap.dinov2.0.' in hint
        assert 'python tools/model_converters/sak_official_to_sakbox.py sak.pth ' in hint


@pytest.mark.parametrize('ckpt', [
    dict(args=argparse.Namespace(model='vit_base_patch16_224'),
         state_dict={'base_model.blocks.0.norm1.weight': torch.ones(2)}),
    dict(state_dict={'base_model.patch_generator.embedder.weight': torch.ones(2, 12),
                     'input_conditioner.norm_mean': torch.ones(3, 1, 1)}),
    {'radio_model.model.patch_generator.pos_embed': torch.ones(1, 4, 2)},
])
def test_official_radio_hint_names_the_converter(ckpt):
    fit = compare_state_dict(Tiny(), extract_state_dict(ckpt), 'radio.pth.tar')
    hint = checkpoint_origin_hint(ckpt, fit)
    assert hint.startswith('Hint: radio.pth.tar looks like an official AM-RADIO release')
    assert 'python tools/model_converters/radio_official_to_sakbox.py radio.pth.tar ' in hint


def test_another_sakbox_model_is_named_from_meta_or_keys():
    radio = {'student.patch_generator.proj.weight': torch.ones(1),
             'adaptors.clip.summary_mlp.fc1.weight': torch.ones(1)}
    fit = compare_state_dict(Tiny(), radio, 'r.pth')
    hint = checkpoint_origin_hint(dict(state_dict=radio), fit)
    assert hint.startswith('Hint: r.pth looks like a checkpoint of a RADIODistiller (its '
                           'top-level parts: [adaptors, student.patch_generator]), while the '
                           'config builds a Tiny (parts: [decode_heads, student.proj])')
    # The Runner's meta['cfg'] text names the type; it is read, never executed.
    cfg_text = "model = dict(\n    student=dict(type='SAKViT'),\n    type='Other',\n)\n"
    hint = checkpoint_origin_hint(dict(meta=dict(cfg=cfg_text), state_dict=radio), fit)
    assert 'a checkpoint of a Other ' in hint


def test_stage1_checkpoint_for_a_stage2_model_says_how_it_is_used():
    class MultiTaskDistiller(Tiny):
        pass

    stage1 = {'student.paths.dino.adapters.0.up.weight': torch.ones(1)}
    fit = compare_state_dict(MultiTaskDistiller(), stage1, 's1.pth')
    hint = checkpoint_origin_hint(stage1, fit)
    assert 'a checkpoint of a MultiTeacherDistiller' in hint
    assert 'model.student.checkpoint' in hint


def test_unrecognised_checkpoint_gets_no_hint():
    sd = {'foo.weight': torch.ones(1)}
    assert checkpoint_origin_hint(sd, compare_state_dict(Tiny(), sd, 'f.pth')) is None


@pytest.mark.parametrize('wrap, ext', [
    (lambda sd: sd, '.pth'),
    (lambda sd: {'state_dict': sd, 'meta': {'epoch': 3}}, '.pth'),
    (lambda sd: {'model': {f'module.{k}': v for k, v in sd.items()}}, '.pt'),
    (lambda sd: sd, '.safetensors'),
])
def test_load_state_dict_file_unwraps(tmp_path, wrap, ext):
    sd = nn.Linear(3, 2).state_dict()
    path = str(tmp_path / f'ckpt{ext}')
    if ext == '.safetensors':
        from safetensors.torch import save_file
        save_file(sd, path)
    else:
        torch.save(wrap(sd), path)
    loaded = load_state_dict_file(path)
    assert loaded.keys() == sd.keys()
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)


def test_load_state_dict_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_state_dict_file(str(tmp_path / 'nope.pth'))
    path = str(tmp_path / 'bad.pth')
    torch.save({'epoch': 3, 'other': {'x': 1}}, path)
    with pytest.raises(ValueError, match='bad.pth is not a state dict'):
        load_state_dict_file(path)


def test_load_strict_names_keys_and_file():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    sd = model.state_dict()
    sd.pop('1.bias')
    sd['2.weight'] = torch.zeros(1)
    sd['0.weight'] = torch.zeros(5, 5)
    with pytest.raises(CheckpointMismatchError) as err:
        load_state_dict_strict(model, sd, 'some/file.pth')
    msg = str(err.value)
    assert 'some/file.pth' in msg and 'missing keys: 1.bias' in msg
    assert 'unexpected keys: 2.weight' in msg and '0.weight (checkpoint (5, 5)' in msg


def test_load_strict_ignore_and_allow():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    ref = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    sd = {k: v for k, v in ref.state_dict().items() if k.startswith('0.')}
    sd['head.weight'] = torch.zeros(1)
    load_state_dict_strict(model, sd, 'f', ignore_unexpected=('head.', ), allow_missing=('1.', ))
    assert torch.equal(model[0].weight, ref[0].weight)


@pytest.mark.parametrize('keys, expected', [
    (['module.a', 'module.b'], ['a', 'b']),
    (['module.a', 'teachers.b'], ['a', 'teachers.b']),  # per key, as timm's clean_state_dict
    (['_orig_mod.module.a'], ['a']),  # torch.compile around DDP
    (['a.module.b'], ['a.module.b']),  # only a leading prefix
])
def test_strip_wrapper_prefixes_is_timms_rule(keys, expected):
    from timm.models import clean_state_dict
    sd = {k: torch.zeros(1) for k in keys}
    assert list(strip_wrapper_prefixes(sd)) == expected == list(clean_state_dict(sd))
    clean = {k: torch.zeros(1) for k in expected}
    assert strip_wrapper_prefixes(clean) is clean  # nothing to strip: the same dict
