"""Students, teachers and apis read weight files through the one reader, read_checkpoint."""
import pytest
import torch
import torch.nn as nn

from sakbox.apis import load_model_weights
from sakbox.registry import MODELS
from sakbox.utils import CheckpointError, read_checkpoint
from sakbox.utils.state_dict_fit import load_state_dict_file

TINY_VIT = dict(depth=4, embed_dim=32, num_heads=2)
STEM = dict(type='SAKViT', teacher_dims=dict(dino=32), arch='vit_base_patch16_384',
            img_size=32, model_kwargs=TINY_VIT)
TEACHER = dict(type='TimmViTTeacher', arch='vit_base_patch16_384', img_size=32,
               model_kwargs=TINY_VIT)


def _bad_files(tmp_path):
    text = tmp_path / 'notes.pth'
    text.write_text('these are not weights\n')
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    truncated = tmp_path / 'cut.pth'
    torch.save(nn.Linear(4, 4).state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    return [str(text), str(empty), str(truncated), str(tmp_path / 'missing.pth')]


LOADERS = {
    'read_checkpoint': read_checkpoint,
    'load_state_dict_file': load_state_dict_file,
    'apis.load_model_weights': lambda p: load_model_weights(nn.Linear(4, 4), p),
    'SAKViT(checkpoint)': lambda p: MODELS.build(dict(STEM, checkpoint=p)),
    'SAKViT(vit_checkpoint)': lambda p: MODELS.build(dict(STEM, vit_checkpoint=p)),
    'TimmViTTeacher(checkpoint)': lambda p: MODELS.build(dict(TEACHER, checkpoint=p)),
    'TorchvisionTeacher(checkpoint)': lambda p: MODELS.build(
        dict(type='TorchvisionTeacher', arch='resnet18', checkpoint=p)),
}


@pytest.mark.parametrize('which', range(4))
def test_same_error_for_the_same_bad_file_everywhere(tmp_path, which):
    path = _bad_files(tmp_path)[which]
    messages = {}
    for name, load in LOADERS.items():
        with pytest.raises(CheckpointError) as err:
            load(path)
        messages[name] = str(err.value)
        assert err.value.path == path, name
    assert len(set(messages.values())) == 1, messages
    assert path in messages['read_checkpoint']
