"""Zero-shot classification (on open_clip's classifier) end to end with tiny random models."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sakbox.evaluation.classification import (
    build_open_clip_text_model,
    build_text_classifier,
    classnames_from,
    evaluate_zero_shot,
    fill_template,
    load_templates,
    zero_shot_logits,
)
from tests.test_models.test_teachers.tiny_models import TINY_OPEN_CLIP
from tests.utils import load_tool

CLIP_TEACHER = dict(
    type='OpenCLIPTeacher', model_name='ViT-B-32', img_size=32, out_indices=[0, 1],
    model_kwargs=dict(embed_dim=24, vision_cfg=dict(image_size=32, layers=2, width=32,
                                                    patch_size=8, head_width=16),
                      text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2,
                                    layers=1)))
CONFIG = f'''
default_scope = 'sakbox'
model = dict(
    type='RADIODistiller',
    student=dict(type='RADIOViT', arch=dict(embed_dim=32, depth=2, num_heads=2), patch_size=8,
                 max_img_size=64),
    teachers=dict(clip={CLIP_TEACHER!r}),
    # the CLIP adaptor predicts the 24-d projected image embedding
    teacher_options=dict(clip=dict(summary_channels=24)),
    data_preprocessor=dict(type='MultiTaskDataPreProcessor'))
'''


@pytest.fixture(scope='module')
def text_tower():
    return build_open_clip_text_model(CLIP_TEACHER)


def test_classifier_shapes_determinism_and_ensembling(text_tower):
    model, tokenizer = text_tower
    classes = ['cat', 'coffee cup', 'rocket']
    templates = load_templates('ensemble')
    clf = build_text_classifier(model, tokenizer, classes, templates, num_classes_per_batch=2)
    assert clf.shape == (24, 3)
    torch.testing.assert_close(clf.norm(dim=0), torch.ones(3))
    again = build_open_clip_text_model(CLIP_TEACHER)  # same seed: same random tower
    torch.testing.assert_close(build_text_classifier(*again, classes, templates), clf)
    # prompt ensembling: normalised mean of the normalised prompt embeddings
    with torch.no_grad():
        emb = F.normalize(model.encode_text(tokenizer([fill_template(t, 'rocket')
                                                        for t in templates])), dim=-1)
    torch.testing.assert_close(clf[:, 2], F.normalize(emb.mean(0), dim=0))
    single = build_text_classifier(model, tokenizer, classes, templates[:1])
    torch.testing.assert_close(single[:, 2], emb[0])
    assert not torch.allclose(single, clf)
    # a format-string template gives the same classifier as the equivalent callable
    as_str = build_text_classifier(model, tokenizer, classes, [fill_template(templates[0], '{}')])
    torch.testing.assert_close(as_str, single)


@pytest.mark.parametrize('spec', ['simple', 'ensemble'])
def test_classifier_is_open_clips_for_its_standard_templates(spec):
    """With random weights, the classifier equals open_clip.build_zero_shot_classifier's."""
    import open_clip
    from open_clip import zero_shot_metadata
    templates = load_templates(spec)
    expected = dict(simple=zero_shot_metadata.SIMPLE_IMAGENET_TEMPLATES,
                    ensemble=zero_shot_metadata.OPENAI_IMAGENET_TEMPLATES)[spec]
    assert list(templates) == list(expected)
    torch.manual_seed(0)
    # the tokenizer's ids need the full vocabulary
    text_cfg = dict(TINY_OPEN_CLIP['text_cfg'], vocab_size=49408)
    model = open_clip.create_model('ViT-B-16', **dict(TINY_OPEN_CLIP, text_cfg=text_cfg)).eval()
    tokenizer = open_clip.get_tokenizer('ViT-B-16', context_length=model.context_length)
    classes = list(zero_shot_metadata.IMAGENET_CLASSNAMES[:3])
    ref = open_clip.build_zero_shot_classifier(model, tokenizer, classes, expected,
                                               num_classes_per_batch=None)
    clf = build_text_classifier(model, tokenizer, classes, templates, num_classes_per_batch=2)
    assert clf.shape == (16, 3)
    torch.testing.assert_close(clf, ref)


def test_imagenet_class_names_from_open_clip(tmp_path):
    from open_clip import IMAGENET_CLASSNAMES
    wnids = [f'n{i:08d}' for i in range(1000)]
    assert classnames_from(wnids) == list(IMAGENET_CLASSNAMES)  # ImageNet-1k folders
    assert classnames_from(wnids, 'imagenet') == list(IMAGENET_CLASSNAMES)
    assert classnames_from(['coffee_cup', 'rocket']) == ['coffee cup', 'rocket']
    with pytest.raises(ValueError, match='1000 names but the dataset 2 classes'):
        classnames_from(['coffee_cup', 'rocket'], 'imagenet')


def test_logits_and_templates(tmp_path):
    clf = F.normalize(torch.randn(24, 5), dim=0)
    img = torch.randn(3, 24)
    logits = zero_shot_logits(img, clf, logit_scale=10.0)
    torch.testing.assert_close(logits, 10.0 * F.normalize(img, dim=-1) @ clf)
    with pytest.raises(ValueError, match='have 16 dims but the text classifier 24'):
        zero_shot_logits(torch.randn(3, 16), clf)
    f = tmp_path / 't.txt'
    f.write_text('a {} in the wild\n\nart of the {}\n')
    assert load_templates(str(f)) == ['a {} in the wild', 'art of the {}']
    f.write_text('no placeholder\n')
    with pytest.raises(ValueError, match='placeholder'):
        load_templates(str(f))


def _image_folder(root):
    import cv2
    import skimage.data
    photos = dict(cat=skimage.data.chelsea(), coffee_cup=skimage.data.coffee(),
                  rocket=skimage.data.rocket())
    for cls, img in photos.items():
        d = osp.join(root, cls)
        import os
        os.makedirs(d)
        for i, (y, x) in enumerate([(0, 0), (40, 60)]):
            crop = np.ascontiguousarray(img[y:y + 200, x:x + 200, ::-1])
            cv2.imwrite(osp.join(d, f'{i}.png'), crop)


def test_evaluation_end_to_end(tmp_path):
    from sakbox.apis import init_model
    cfg_path = tmp_path / 'tiny_radio_clip.py'
    cfg_path.write_text(CONFIG)
    torch.manual_seed(0)
    model = init_model(str(cfg_path))
    ckpt = tmp_path / 'radio.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    data = tmp_path / 'images'
    _image_folder(str(data))
    names = tmp_path / 'names.txt'
    names.write_text('cat\ncoffee cup\nrocket\n')
    kwargs = dict(classes=str(names), img_size=32, batch_size=4)
    loaded = init_model(str(cfg_path), str(ckpt), device='cpu')
    res = evaluate_zero_shot(loaded, str(data), **kwargs)
    assert res['num_images'] == 6 and res['num_classes'] == 3
    assert len(res['predictions']) == 6 and set(res['predictions']) <= {0, 1, 2}
    assert 0 <= res['top1'] <= 100 and res['top5'] == 100.0  # k clipped to 3 classes
    assert evaluate_zero_shot(loaded, str(data), **kwargs)['predictions'] == \
        res['predictions']  # deterministic
    with pytest.raises(KeyError, match="'dino' is not a teacher"):
        evaluate_zero_shot(loaded, str(data), teacher='dino', **kwargs)
    # the CLI: same result, written as JSON
    tool = load_tool('tools/analysis_tools/zero_shot_classify.py')
    argv = [str(cfg_path), str(ckpt), '--data-root', str(data), '--classes', str(names),
            '--img-size', '32', '--batch-size', '4', '--out', str(tmp_path / 'zs.json'),
            '--device', 'cpu']
    assert tool.main(argv)['predictions'] == res['predictions']
    assert osp.isfile(tmp_path / 'zs.json')


def test_text_tower_belongs_to_the_randomly_initialised_teacher():
    """Seeded like the distiller's teacher (same img_size handling), the towers pair up."""
    import open_clip

    from sakbox.registry import MODELS
    cfg = dict(CLIP_TEACHER, img_size=48, with_summary=True)
    text_model, _ = build_open_clip_text_model(cfg, seed=3)

    def full(image_size):
        kwargs = dict(CLIP_TEACHER['model_kwargs'])
        kwargs['vision_cfg'] = dict(kwargs['vision_cfg'], image_size=image_size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(3)
            return open_clip.create_model('ViT-B-32', **kwargs)
    ref, other = full(48), full(32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        teacher = MODELS.build(cfg)
    for k, v in teacher.visual.state_dict().items():
        torch.testing.assert_close(v, ref.visual.state_dict()[k], msg=k)
    text = {k: v for k, v in text_model.state_dict().items() if not k.startswith('visual')}
    for k, v in text.items():
        torch.testing.assert_close(v, ref.state_dict()[k], msg=k)
    # a tower built for another image size draws other random numbers before the text
    assert not torch.equal(text['token_embedding.weight'],
                           other.state_dict()['token_embedding.weight'])
