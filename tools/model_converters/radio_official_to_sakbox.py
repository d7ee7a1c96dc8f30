"""Convert a released AM-RADIO (v2.5-style ViT) checkpoint to a sakbox RADIODistiller one.

The source is the file the official ``torch.hub`` loader reads: ``dict(args,
state_dict[, state_dict_ema])`` with the backbone under ``base_model.`` (a timm
ViT whose patch embedding, CPE grid and summary/register tokens live in
``base_model.patch_generator``), the input normalisation under
``input_conditioner.``, per-teacher heads under ``_heads.<index|name>.`` and
``_feature_projections.<index|name>.`` and an optional ``_feature_normalizer.``.
Spectral re-parametrised weights are realised. The output is an MMEngine
checkpoint (``state_dict`` with ``student.*`` and ``adaptors.<teacher>.*`` keys)
whose ``meta['radio_config']`` holds the ``RADIOViT`` arguments, the per-teacher
adaptor options and the data preprocessor statistics; the matching config
fragment is printed.

Usage::

    python tools/model_converters/radio_official_to_sakbox.py radio-v2.5-b_half.pth.tar \\
        radio_v2.5-b_sakbox.pth [--teachers clip siglip dino_v2 sam] [--num-heads 12]
"""
import argparse
import argparse as _argparse_mod
import math
import os.path as osp
import pprint
import re
import sys
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

# Runs as a script from any directory: make the repository importable.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.utils.checkpoint import CheckpointError, read_checkpoint  # noqa: E402

#: Heads of the usual ViT widths (used when timm does not know the arch name).
HEADS_BY_WIDTH = {192: 3, 384: 6, 768: 12, 1024: 16, 1152: 16, 1280: 16, 1536: 24, 1664: 16}


def load_official(path: str, unsafe: bool = False) -> dict:
    """Load a released checkpoint (``args`` is an ``argparse.Namespace``).

    Read with ``weights_only=True`` and ``argparse.Namespace`` allowed, unless
    ``unsafe``; unreadable files fail with :func:`sakbox.utils.read_checkpoint`'s message.
    """
    if unsafe:
        return read_checkpoint(path, map_location='cpu', weights_only=False)
    with torch.serialization.safe_globals([_argparse_mod.Namespace]):
        try:
            return read_checkpoint(path, map_location='cpu')
        except CheckpointError as e:
            if not e.weights_only_refused:
                raise
            raise CheckpointError(f'{e} Or, if you trust the file, rerun with --unsafe-load.',
                                  path, e.refused_globals, weights_only_refused=True) from e


def _sn_factor(weight: torch.Tensor, sd: Dict[str, torch.Tensor], prefix: str,
               eps: float, power_iterations: int) -> torch.Tensor:
    """Apply one official spectral re-weighting (``_SNReweight``) to ``weight``.

    The official loader realises the weights with the modules in training mode, so
    ``power_iterations`` power-method steps refine ``u`` and ``v`` first; doing the same
    reproduces its weights.
    """
    u, v, scale = sd[prefix + '_u'].double(), sd[prefix + '_v'].double(), sd[prefix + 'scale']
    version = int(sd.get(prefix + '_sn_version', torch.tensor(1)))
    mat = weight.flatten(1).double()
    for _ in range(power_iterations):
        u = F.normalize(mat @ v, dim=0, eps=eps)
        v = F.normalize(mat.T @ u, dim=0, eps=eps)
    sigma = torch.dot(u, mat @ v) + eps
    s = F.softplus(scale.double()) + 0.05 if version == 2 else scale.double()
    return (weight.double() * (s.reshape(()) / sigma)).to(weight.dtype)


def realize_parametrizations(sd: Dict[str, torch.Tensor], eps: float = 1e-6,
                             power_iterations: int = 1) -> Dict[str, torch.Tensor]:
    """Fold ``<m>.parametrizations.weight.*`` (spectral re-param, DAMP) into ``<m>.weight``."""
    out = OrderedDict((k, v) for k, v in sd.items() if '.parametrizations.' not in k)
    for key in [k for k in sd if k.endswith('.parametrizations.weight.original')]:
        mod = key[:-len('.parametrizations.weight.original')]
        w = sd[key].float()
        i = 0
        while any(k.startswith(f'{mod}.parametrizations.weight.{i}.') for k in sd):
            p = f'{mod}.parametrizations.weight.{i}.'
            if p + '_u' in sd:
                w = _sn_factor(w, sd, p, eps, power_iterations)
            elif any(k.startswith(p + 'parts.') for k in sd):  # chunked (qkv, w12)
                n = 3 if w.shape[0] % 3 == 0 and mod.endswith('qkv') else 2
                parts = list(w.split(w.shape[0] // n, dim=0))
                for j in range(n):
                    if f'{p}parts.{j}._u' in sd:
                        parts[j] = _sn_factor(parts[j], sd, f'{p}parts.{j}.', eps,
                                                      power_iterations)
                w = torch.cat(parts, 0)
            i += 1
        out[mod + '.weight'] = w
    return out


def _strip(sd: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))


def _num_heads(args, width: int, given: Optional[int]) -> int:
    if given:
        return given
    name = getattr(args, 'model', None)
    if name:
        try:
            import timm
            with torch.device('meta'):
                return int(timm.create_model(name, pretrained=False).blocks[0].attn.num_heads)
        except Exception:  # noqa: BLE001 - official-only arch names: use the width table
            pass
    if width not in HEADS_BY_WIDTH:
        raise KeyError(f'cannot tell the number of heads of a {width}-wide ViT '
                       f'({name!r}); pass --num-heads')
    return HEADS_BY_WIDTH[width]


def _check_backbone_layout(sd: Dict[str, torch.Tensor], args) -> None:
    """Refuse, with the reason, every backbone that ``RADIOViT`` cannot hold exactly."""
    model = str(getattr(args, 'model', '') or '')
    if model.lower().startswith('eradio') or any(k.startswith('patch_embed.') for k in sd):
        raise NotImplementedError(
            f'{model or "this release"} is an E-RADIO checkpoint (base_model.patch_embed.*, '
            'official C2f/windowed-attention modules). sakbox\'s ERADIO is its own '
            'implementation of the published mechanisms with another module layout, so '
            'these weights cannot be mapped onto it; only ViT RADIO releases '
            '(base_model.patch_generator.*) convert.')
    if any(k.startswith('inner.') for k in sd):
        raise NotImplementedError('DINOv2-wrapper backbones (base_model.inner.*) are not '
                                  'supported; only timm-ViT RADIO models are')
    bad = [k for k in sd if re.search(r'\.(q_norm|k_norm|w12|w3)\.', k)]
    if bad:
        raise NotImplementedError(f'unsupported block variant (e.g. {bad[0]}): RADIOViT uses '
                                  'plain timm blocks')
    need = ('patch_generator.embedder.weight', 'patch_generator.pos_embed')
    missing = [k for k in need if k not in sd]
    if missing:
        tops = sorted({k.split('.')[0] for k in sd})
        raise KeyError(f'not a ViT RADIO release: base_model.{missing[0]} is missing '
                       f'(base_model holds {tops[:12]}; args.model={model!r})')


def convert_backbone(sd: Dict[str, torch.Tensor], args, num_heads: Optional[int],
                     min_cls_tokens: int = 0) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Map ``base_model.*`` to ``RADIOViT`` keys; return (state dict, RADIOViT kwargs).

    Args:
        sd (dict): The ``base_model.`` part of the release state dict (prefix removed).
        args: The release's ``args``.
        num_heads (int, optional): Attention heads (else from timm / the width).
        min_cls_tokens (int): Summary tokens the kept adaptors read (largest slot + 1);
            the official model reads such a slot even beyond its own token count.
    """
    _check_backbone_layout(sd, args)
    pg = 'patch_generator.'
    emb = sd[pg + 'embedder.weight']
    width = emb.shape[0]
    patch = int(math.isqrt(emb.shape[1] // 3))
    grid = int(math.isqrt(sd[pg + 'pos_embed'].shape[1]))
    depth = 1 + max(int(k.split('.')[1]) for k in sd if k.startswith('blocks.'))
    tokens = sd.get(pg + 'cls_token.token')
    uq_teachers = len({t['name'] for t in getattr(args, 'teachers', [])}) or 1
    num_cls = uq_teachers if getattr(args, 'cls_token_per_teacher', True) else 1
    num_cls = max(num_cls, min_cls_tokens)
    num_cls = min(num_cls, tokens.shape[0]) if tokens is not None else 0
    out = OrderedDict()
    out['patch_generator.proj.weight'] = emb.reshape(width, 3, patch, patch)
    if pg + 'embedder.bias' in sd:
        out['patch_generator.proj.bias'] = sd[pg + 'embedder.bias']
    out['patch_generator.pos_embed'] = sd[pg + 'pos_embed']
    if tokens is not None:
        out['patch_generator.cls_token'] = tokens
    # The official create_model_from_args replaces the final norm by an identity unless
    # args.model_norm: its weights, if the file has them, are then unused.
    final_norm = 'norm.weight' in sd and bool(getattr(args, 'model_norm', False))
    for k, v in sd.items():
        if k.startswith(pg + 'patch_normalizer.'):
            out['patch_generator.norm.' + k[len(pg + 'patch_normalizer.'):]] = v
        elif k.startswith('blocks.') or (final_norm and k.startswith('norm.')):
            out[k] = v
    kwargs = dict(
        arch=dict(embed_dim=width, depth=depth, num_heads=_num_heads(args, width, num_heads)),
        patch_size=patch, max_img_size=grid * patch, num_cls_tokens=num_cls,
        num_registers=(tokens.shape[0] - num_cls) if tokens is not None else 0,
        mlp_ratio=sd['blocks.0.mlp.fc1.weight'].shape[0] / width,
        qkv_bias='blocks.0.attn.qkv.bias' in sd,
        layer_scale_init=1e-5 if 'blocks.0.ls1.gamma' in sd else None,
        normalize_patches=pg + 'patch_normalizer.weight' in sd,
        patch_bias=pg + 'embedder.bias' in sd, final_norm=final_norm)
    return out, kwargs


def _mlp_info(sd: Dict[str, torch.Tensor]) -> dict:
    if 'final.2.weight' not in sd:
        raise NotImplementedError(f'only the official "v2" MLP heads are supported; keys: '
                                  f'{sorted(sd)[:6]}')
    return dict(hidden=sd['fc1.weight'].shape[0], out=sd['final.2.weight'].shape[0],
                num_inner=sum(1 for k in sd if re.fullmatch(r'blocks\.\d+\.2\.weight', k)),
                pre_norm='pre_norm.0.weight' in sd)


def input_statistics(cond: Dict[str, torch.Tensor]) -> Tuple[Optional[list], Optional[list]]:
    """The input conditioner's mean / std in RGB 0-255, computed in float64.

    The official loader copies the stored (0-1) statistics into float32 buffers, so a
    ``*_half`` release normalises with its float16-rounded values; scaling them by 255
    in float16 would round once more (122.75 instead of 122.77).

    Args:
        cond (dict): ``input_conditioner.`` tensors (``norm_mean``, ``norm_std``).

    Returns:
        tuple: ``(mean, std)`` lists of 3 floats (None, None without a conditioner).
    """
    if not cond:
        return None, None
    return tuple([round(float(v), 6) for v in cond[k].double().flatten() * 255]
                 for k in ('norm_mean', 'norm_std'))


def convert(ckpt: dict, teachers=None, num_heads: Optional[int] = None,
            dtype: torch.dtype = torch.float32) -> dict:
    """Convert an official checkpoint dict; return an MMEngine checkpoint dict."""
    args = ckpt.get('args', _argparse_mod.Namespace())
    sd = ckpt['state_dict_ema'] if 'state_dict_ema' in ckpt else ckpt['state_dict']
    sr = getattr(args, 'spectral_reparam', False)
    sr = sr if isinstance(sr, dict) else {}
    sd = realize_parametrizations({k[7:] if k.startswith('module.') else k: v
                                   for k, v in sd.items()}, eps=sr.get('eps', 1e-6),
                                  power_iterations=sr.get('n_power_iterations', 1))
    _check_backbone_layout(_strip(sd, 'base_model.'), args)  # before any head is read
    tconfs = list(getattr(args, 'teachers', []))
    per_token = getattr(args, 'cls_token_per_teacher', True)
    first_idx: Dict[str, int] = {}
    for i, t in enumerate(tconfs):  # a teacher listed twice (e.g. two resolutions) counts once
        first_idx.setdefault(t['name'], i)
    names = list(teachers or first_idx)
    # Backbone summary as the official hub loader: first index of each teacher name
    # with use_summary (its teacher index, not its token_slot), or token 0.
    backbone_slots = (sorted(i for n, i in first_idx.items()
                             if tconfs[i].get('use_summary', True)) if per_token else [0])
    heads_by_teacher, slots = {}, {}
    for name in names:
        idx = first_idx.get(name)
        tconf = tconfs[idx] if idx is not None else {}
        heads = {}
        for kind, pfx in (('summary', '_heads.'), ('feature', '_feature_projections.')):
            sub = _strip(sd, f'{pfx}{name}.') or (_strip(sd, f'{pfx}{idx}.')
                                                  if idx is not None else {})
            if sub:
                heads[kind] = sub
        if not heads:
            known = sorted({k.split('.')[1] for k in sd if k.startswith(('_heads.',
                                                                         '_feature_proj'))})
            raise KeyError(f'no adaptor heads for teacher {name!r} (heads present: {known})')
        if not tconf.get('use_summary', True):
            # The release trained no summary for this teacher: its head (if saved) is noise.
            heads.pop('summary', None)
        heads_by_teacher[name] = (idx, tconf, heads)
        if 'summary' in heads:
            slots[name] = int(tconf.get('token_slot', idx) or 0) if per_token else 0
    student_sd, student_kwargs = convert_backbone(
        _strip(sd, 'base_model.'), args, num_heads,
        min_cls_tokens=max([*slots.values(), *backbone_slots], default=-1) + 1)
    state = OrderedDict(('student.' + k, v) for k, v in student_sd.items())
    fn = _strip(sd, '_feature_normalizer.')
    if fn:
        student_kwargs['feature_normalizer'] = True
        state['student.feature_normalizer.mean'] = fn['mean']
        state['student.feature_normalizer.tx'] = fn['tx']
        state['student.feature_normalizer.tx_inv'] = torch.linalg.inv(fn['tx'].double())
    per_teacher = {}
    for name, (idx, tconf, heads) in heads_by_teacher.items():
        opt, adaptor = {}, {}
        if 'summary' in heads:
            info = _mlp_info(heads['summary'])
            opt['summary_channels'] = info['out']
            adaptor.update(hidden_channels=info['hidden'], num_inner=info['num_inner'],
                           pre_norm=info['pre_norm'])
            opt['summary_slot'] = slots[name]
        else:
            opt['summary'] = False
        if 'feature' in heads:
            info = _mlp_info(heads['feature'])
            ups = int(tconf.get('fd_upsample_factor') or 1)
            adaptor.update(feature_hidden_channels=info['hidden'],
                           feature_num_inner=info['num_inner'], upsample_factor=ups,
                           pre_norm=info['pre_norm'])
            opt['feature_channels'] = info['out'] // ups**2
        else:
            opt['features'] = False
        opt['adaptor'] = adaptor
        per_teacher[name] = opt
        for kind, mod in (('summary', 'summary_mlp'), ('feature', 'feature_mlp')):
            for k, v in heads.get(kind, {}).items():
                state[f'adaptors.{name}.{mod}.{k}'] = v
        if name in slots:
            state[f'adaptors.{name}.summary_slot'] = torch.tensor(slots[name])
    state = OrderedDict((k, v.to(dtype) if v.is_floating_point() else v)
                        for k, v in state.items())
    mean, std = input_statistics(_strip(sd, 'input_conditioner.'))
    meta = dict(radio_config=dict(student=dict(type='RADIOViT', **student_kwargs),
                                  teachers=per_teacher,
                                  backbone_summary_slots=backbone_slots,
                                  data_preprocessor=dict(mean=mean, std=std)),
                source_model=getattr(args, 'model', None))
    return dict(state_dict=state, meta=meta)


def main() -> None:  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='official checkpoint (.pth.tar)')
    p.add_argument('dst', help='output sakbox checkpoint')
    p.add_argument('--teachers', nargs='+', help='adaptor heads to keep (default: all)')
    p.add_argument('--num-heads', type=int, help='attention heads (if not inferable)')
    p.add_argument('--dtype', default='float32', choices=['float32', 'float16', 'bfloat16'])
    p.add_argument('--unsafe-load', action='store_true',
                   help='torch.load(weights_only=False): only for files you trust')
    a = p.parse_args()
    try:
        ckpt = load_official(a.src, a.unsafe_load)
    except CheckpointError as e:
        sys.exit(f'ERROR: {e}')
    out = convert(ckpt, a.teachers, a.num_heads, getattr(torch, a.dtype))
    torch.save(out, a.dst)
    cfg = out['meta']['radio_config']
    print(f'saved {len(out["state_dict"])} tensors to {a.dst}\n'
          'config fragment (teacher_options go into RADIODistiller; teacher configs are '
          'yours to give):')
    pprint.pprint(dict(student=cfg['student'],
                       backbone_summary_slots=cfg['backbone_summary_slots'],
                       teacher_options={n: {k: v for k, v in o.items()
                                            if k != 'feature_channels'}
                                        for n, o in cfg['teachers'].items()},
                       teacher_dims={n: [o['feature_channels']] for n, o in cfg['teachers'].items()
                                     if 'feature_channels' in o},
                       data_preprocessor=dict(type='MultiTaskDataPreProcessor',
                                              **cfg['data_preprocessor'])), width=100)


if __name__ == '__main__':
    main()
