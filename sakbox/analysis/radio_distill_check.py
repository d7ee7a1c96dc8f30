"""Check that RADIO distillation works: a tiny student learns fixed random teachers.

Three frozen, randomly initialised tiny teachers of different architectures
(a timm ViT, an open_clip ViT tower and a timm ResNet) are distilled into a tiny
``RADIOViT`` (or ``ERADIO``) on random crops of the photos bundled with
scikit-image. Training and held-out crops come from *different* photos. The
summary and spatial cosine similarities of the student's adaptor outputs to
each teacher are printed for the untrained and the trained student, in the
teacher's own feature space and in PHI-S space (centred and whitened: there a
constant prediction scores 0, so the metric cannot be met by predicting the
teacher's mean feature).

``tools/analysis_tools/radio_distill_check.py`` is the command line::

    python tools/analysis_tools/radio_distill_check.py --iters 600 --out check.json
"""
import json
import math
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from sakbox.models.adaptor_heads import PhiSStatsAccumulator
from sakbox.registry import MODELS

__all__ = ['load_photos', 'random_crops', 'teacher_configs', 'build_model', 'fit_phi_s',
           'evaluate', 'train', 'run']

TRAIN_PHOTOS = ('astronaut', 'coffee', 'rocket', 'hubble_deep_field', 'immunohistochemistry',
                'retina', 'stereo_motorcycle', 'camera', 'coins', 'moon', 'brick', 'grass',
                'gravel', 'clock', 'colorwheel')
HELDOUT_PHOTOS = ('chelsea', 'text', 'cell', 'page')
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def load_photos(names: Sequence[str]) -> List[torch.Tensor]:
    """scikit-image photos as (3, H, W) float tensors in 0-255 (grey -> RGB)."""
    import skimage.data
    photos = []
    for name in names:
        img = getattr(skimage.data, name)()
        img = img[0] if isinstance(img, tuple) else img
        img = np.asarray(img, dtype=np.float32)
        img = np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img[..., :3]
        photos.append(torch.from_numpy(img).permute(2, 0, 1).contiguous())
    return photos


def random_crops(photos: List[torch.Tensor], n: int, size: int, gen: torch.Generator,
                 scale=(0.02, 0.6)) -> torch.Tensor:
    """``n`` random-area, random-aspect crops resized to ``size``, flipped at random.

    Returns:
        Tensor: (n, 3, size, size) normalised with the ImageNet statistics.
    """
    out = []
    for _ in range(n):
        img = photos[int(torch.randint(len(photos), (1, ), generator=gen))]
        h, w = img.shape[-2:]
        area = h * w * float(torch.empty(1).uniform_(*scale, generator=gen))
        aspect = math.exp(float(torch.empty(1).uniform_(math.log(3 / 4), math.log(4 / 3),
                                                        generator=gen)))
        ch = int(min(h, max(8, round(math.sqrt(area / aspect)))))
        cw = int(min(w, max(8, round(math.sqrt(area * aspect)))))
        y = int(torch.randint(h - ch + 1, (1, ), generator=gen))
        x = int(torch.randint(w - cw + 1, (1, ), generator=gen))
        crop = F.interpolate(img[None, :, y:y + ch, x:x + cw], size=(size, size),
                             mode='bilinear', align_corners=False, antialias=True)
        if float(torch.rand(1, generator=gen)) < 0.5:
            crop = crop.flip(-1)
        out.append(crop)
    return (torch.cat(out) - MEAN) / STD


def teacher_configs(img_size: int, names: Sequence[str] = ('vit', 'clip', 'cnn')) -> Dict:
    """Tiny random teachers (timm ViT, open_clip ViT, timm ResNet) by name."""
    all_cfgs = dict(
        vit=dict(type='TimmViTTeacher', arch='vit_small_patch16_224', img_size=img_size,
                 out_indices=[1, 2], model_kwargs=dict(patch_size=8, embed_dim=48, depth=3,
                                                       num_heads=3)),
        clip=dict(type='OpenCLIPTeacher', model_name='ViT-B-32', img_size=img_size,
                  out_indices=[0, 1], model_kwargs=dict(
                      embed_dim=32, vision_cfg=dict(image_size=img_size, layers=2, width=64,
                                                    patch_size=8, head_width=32),
                      text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2,
                                    layers=1))),
        cnn=dict(type='TimmCNNTeacher', arch='resnet10t', out_indices=(1, 2)),
    )
    return {n: all_cfgs[n] for n in names}


def build_model(student: str = 'vit', teachers: Sequence[str] = ('vit', 'clip', 'cnn'),
                img_size: int = 64, width: int = 96, depth: int = 4, seed: int = 0):
    """A RADIODistiller with tiny random teachers (fixed by ``seed``) and PHI-S on."""
    if student == 'vit':
        stu = dict(type='RADIOViT', arch=dict(embed_dim=width, depth=depth, num_heads=4),
                   patch_size=8, max_img_size=2 * img_size)
    else:
        stu = dict(type='ERADIO', dim=24, stem_dim=24, depths=(1, 1, depth // 2, 1),
                   num_heads=(2, 4), window_size=4, embed_dim=width)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS.build(dict(
            type='RADIODistiller', student=stu, teachers=teacher_configs(img_size, teachers),
            teacher_options={t: dict(adaptor=dict(hidden_channels=2 * width))
                             for t in teachers},
            phi_s=dict(summary=True), teacher_init_seed=seed,
            data_preprocessor=dict(type='BaseDataPreprocessor')))


@torch.no_grad()
def fit_phi_s(model, images: torch.Tensor, batch: int = 64) -> None:
    """Estimate every teacher's PHI-S statistics from ``images`` and load them."""
    for name in model.teacher_names:
        acc = {k: PhiSStatsAccumulator(n.dim) for k, n in model.phi_s[name].items()}
        for k, n in model.phi_s[name].items():  # raw targets: identity normalisers
            n.set_stats(dict(mean=torch.zeros(n.dim), tx=torch.eye(n.dim)))
        for i in range(0, len(images), batch):
            tgt = model.teacher_targets(name, images[i:i + batch])
            for k in acc:
                acc[k].update(tgt[k])
        for k, n in model.phi_s[name].items():
            n.set_stats(acc[k].compute())


@torch.no_grad()
def evaluate(model, images: torch.Tensor, batch: int = 64) -> Dict[str, Dict[str, float]]:
    """Mean summary / per-token spatial cosine to every teacher, raw and in PHI-S space."""
    was_training = model.training
    model.eval()
    sums: Dict[str, Dict[str, float]] = {n: {} for n in model.teacher_names}
    for i in range(0, len(images), batch):
        x = images[i:i + batch]
        out = model.extract_feat(x)
        for name in model.teacher_names:
            tgt, pred = model.teacher_targets(name, x), out['adaptors'][name]
            norms = model.phi_s[name] if name in model.phi_s else {}
            for kind in ('summary', 'features'):
                if kind not in tgt:
                    continue
                p, t = pred[kind], tgt[kind]
                if kind == 'features':
                    p, t = model._match(p, t)
                for space in ('phi_s', 'raw'):
                    if space == 'raw' and kind in norms:
                        p_, t_ = norms[kind].inverse(p), norms[kind].inverse(t)
                    else:
                        p_, t_ = p, t
                    cos = F.cosine_similarity(p_, t_, dim=1).flatten(1).mean(-1) \
                        if kind == 'features' else F.cosine_similarity(p_, t_, dim=1)
                    key = f'{"spatial" if kind == "features" else "summary"}_cos_{space}'
                    sums[name][key] = sums[name].get(key, 0.0) + float(cos.sum())
    model.train(was_training)
    return {n: {k: v / len(images) for k, v in d.items()} for n, d in sums.items()}


def train(model, photos: List[torch.Tensor], iters: int, batch: int, img_size: int,
          lr: float = 2e-3, seed: int = 0, log_every: int = 0,
          device: str = 'cpu') -> List[float]:
    """AdamW + cosine schedule on fresh random crops every step; returns the losses."""
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                            weight_decay=0.02)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=iters,
                                                pct_start=0.05)
    model.train()
    history = []
    for it in range(iters):
        losses = model.loss(random_crops(photos, batch, img_size, gen).to(device))
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history.append(loss.item())
        if log_every and (it + 1) % log_every == 0:
            print(f'iter {it + 1}/{iters} loss {loss.item():.4f}', flush=True)
    return history


def run(student: str = 'vit', teachers: Sequence[str] = ('vit', 'clip', 'cnn'),
        iters: int = 600, batch: int = 32, img_size: int = 48, num_heldout: int = 128,
        num_phi_s: int = 512, seed: int = 0, lr: float = 2e-3, width: int = 96, depth: int = 4,
        log_every: int = 0, out: Optional[str] = None, device: str = 'cpu') -> dict:
    """Build, measure untrained, train, measure trained; return all numbers.

    Args:
        student: ``'vit'`` (RADIOViT) or ``'eradio'``.
        teachers: Random teachers among ``'vit'``, ``'clip'`` and ``'cnn'``.
        iters: Training steps.
        batch: Crops per step.
        img_size: Crop size (px).
        num_heldout: Held-out crops (from photos never trained on).
        num_phi_s: Crops the PHI-S statistics are fitted on.
        seed: Seed of the models and the crops.
        lr: Learning rate.
        width: Student embedding width.
        depth: Student blocks.
        log_every: Print the loss every this many steps (0: never).
        out: Also write the numbers to this JSON file.
        device: Where to run.

    Returns:
        dict: ``untrained`` / ``trained``: ``{teacher: {summary_cos_raw,
        spatial_cos_raw, summary_cos_phi_s, spatial_cos_phi_s}}``, plus the
        settings, ``train_seconds`` and ``final_loss``.
    """
    torch.manual_seed(seed)
    train_photos, held_photos = load_photos(TRAIN_PHOTOS), load_photos(HELDOUT_PHOTOS)
    gen = torch.Generator().manual_seed(seed + 100)
    heldout = random_crops(held_photos, num_heldout, img_size, gen).to(device)
    model = build_model(student, teachers, img_size, width, depth, seed).to(device)
    fit_phi_s(model, random_crops(train_photos, num_phi_s, img_size, gen).to(device))
    before = evaluate(model, heldout)
    t0 = time.time()
    history = train(model, train_photos, iters, batch, img_size, lr, seed, log_every, device)
    after = evaluate(model, heldout)
    result = dict(student=student, device=device, iters=iters, batch=batch, img_size=img_size,
                  train_seconds=time.time() - t0, untrained=before, trained=after,
                  final_loss=history[-1] if history else None)
    if out:
        with open(out, 'w') as f:
            json.dump(result, f, indent=2)
    return result
