"""Zero-shot classification end to end with a tiny random open_clip model."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.utils.zero_shot import (
    build_open_clip_text_model,
    build_text_classifier,
    load_templates,
    zero_shot_logits,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
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
    clf = build_text_classifier(model, tokenizer, classes, templates, batch_size=7)
    assert clf.shape == (24, 3)
    torch.testing.assert_close(clf.norm(dim=0), torch.ones(3))
    again = build_open_clip_text_model(CLIP_TEACHER)  # same seed: same random tower
    torch.testing.assert_close(build_text_classifier(*again, classes, templates), clf)
    # prompt ensembling: normalised mean of the normalised prompt embeddings
    with torch.no_grad():
        emb = F.normalize(model.encode_text(tokenizer([t.format('rocket') for t in templates])),
                          dim=-1)
    torch.testing.assert_close(clf[:, 2], F.normalize(emb.mean(0), dim=0))
    single = build_text_classifier(model, tokenizer, classes, ['a photo of a {}.'])
    torch.testing.assert_close(single[:, 2], emb[0])
    assert not torch.allclose(single, clf)


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


def test_tool_end_to_end(tmp_path):
    sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
    try:
        import zero_shot_classify
    finally:
        sys.path.pop(0)
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
    argv = [str(cfg_path), str(ckpt), '--data-root', str(data), '--classes', str(names),
            '--img-size', '32', '--batch-size', '4', '--out', str(tmp_path / 'zs.json'),
            '--device', 'cpu']
    res = zero_shot_classify.main(argv)
    assert res['num_images'] == 6 and res['num_classes'] == 3
    assert len(res['predictions']) == 6 and set(res['predictions']) <= {0, 1, 2}
    assert 0 <= res['top1'] <= 100 and res['top5'] == 100.0  # k clipped to 3 classes
    assert zero_shot_classify.main(argv)['predictions'] == res['predictions']  # deterministic
    assert osp.isfile(tmp_path / 'zs.json')
    with pytest.raises(KeyError, match="'dino' is not a teacher"):
        zero_shot_classify.main(argv + ['--teacher', 'dino'])


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
