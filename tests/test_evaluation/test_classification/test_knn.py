"""Weighted k-NN classification (DINO style) and the kNN evaluation of image folders."""
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sakbox.evaluation.classification import evaluate_knn, knn_classify, topk_accuracy


def test_matches_brute_force_reference():
    torch.manual_seed(0)
    train, labels, test = torch.randn(50, 8), torch.randint(0, 4, (50, )), torch.randn(7, 8)
    scores = knn_classify(train, labels, test, 4, k=5, temperature=0.1, batch_size=3)
    sims = F.normalize(test, dim=1) @ F.normalize(train, dim=1).T
    ref = torch.zeros(7, 4)
    for i in range(7):
        top = sims[i].topk(5)
        for s, j in zip(top.values, top.indices):
            ref[i, labels[j]] += torch.exp(s / 0.1)
    torch.testing.assert_close(scores, ref)


def test_separable_clusters_and_accuracy():
    torch.manual_seed(0)
    centres = torch.eye(3, 16) * 5
    train = torch.cat([centres[c] + 0.3 * torch.randn(20, 16) for c in range(3)])
    labels = torch.arange(3).repeat_interleave(20)
    test = torch.cat([centres[c] + 0.3 * torch.randn(5, 16) for c in range(3)])
    scores = knn_classify(train, labels, test, 3, k=200)  # k clipped to 60
    acc = topk_accuracy(scores, torch.arange(3).repeat_interleave(5), topk=(1, 5))
    assert acc == dict(top1=100.0, top5=100.0)
    with pytest.raises(ValueError, match=r'must be \(N, D\) and \(M, D\)'):
        knn_classify(train, labels, torch.randn(2, 5), 3)


def test_knn_evaluation_end_to_end(tmp_path):
    import cv2
    import skimage.data

    from sakbox.apis import init_model
    cfg = tmp_path / 'tiny_radio.py'
    cfg.write_text('''
default_scope = 'sakbox'
model = dict(
    type='RADIODistiller',
    student=dict(type='RADIOViT', arch=dict(embed_dim=32, depth=2, num_heads=2), patch_size=8,
                 max_img_size=64),
    teachers=dict(vit=dict(type='TimmViTTeacher', arch='vit_small_patch16_224',
                           model_kwargs=dict(patch_size=8, embed_dim=24, depth=2, num_heads=2))),
    teacher_dims=dict(vit=[24, 24, 24, 24]),
    data_preprocessor=dict(type='MultiTaskDataPreProcessor'))
''')
    torch.manual_seed(0)
    ckpt = tmp_path / 'radio.pth'
    torch.save(dict(state_dict=init_model(str(cfg)).state_dict()), ckpt)
    for split, offsets in (('train', [(0, 0), (30, 30), (60, 10)]), ('val', [(15, 45)])):
        for cls, img in (('cat', skimage.data.chelsea()), ('rocket', skimage.data.rocket())):
            os.makedirs(tmp_path / split / cls)
            for i, (y, x) in enumerate(offsets):
                crop = np.ascontiguousarray(img[y:y + 160, x:x + 160, ::-1])
                cv2.imwrite(str(tmp_path / split / cls / f'{i}.png'), crop)
    model = init_model(str(cfg), str(ckpt), device='cpu')
    res = evaluate_knn(model, str(tmp_path / 'train'), str(tmp_path / 'val'), img_size=32, k=3,
                       feature='adaptor:vit')
    assert res['num_train'] == 6 and res['num_val'] == 2
    assert res['top5'] == 100.0 and 0 <= res['top1'] <= 100
