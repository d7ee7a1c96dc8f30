"""Released AM-RADIO checkpoints (NVlabs/RADIO, v2.5-style ViT) -> sakbox RADIODistiller ones.

The source is the file the official ``torch.hub`` loader reads: ``dict(args,
state_dict[, state_dict_ema])`` with the backbone under ``base_model.`` (a timm
ViT whose patch embedding, CPE grid and summary/register tokens live in
``base_model.patch_generator``), the input normalisation under
``input_conditioner.``, per-teacher heads under ``_heads.<index|name>.`` and
``_feature_projections.<index|name>.`` and an optional ``_feature_normalizer.``.
Spectral re-parametrised weights are realised. The output is an MMEngine
checkpoint (``state_dict`` with ``student.*`` and ``adaptors.<teacher>.*`` keys)
whose ``meta['radio_config']`` holds the ``RADIOViT`` arguments, the per-teacher
adaptor options and the data preprocessor statistics
(:func:`radio_config_fragment` turns it into config entries).

Three levels, as in :mod:`sakbox.converters.sak_official`:

* :func:`load_radio_official` reads a file (through
  :func:`sakbox.utils.checkpoint.read_checkpoint`);
* :func:`convert_radio_official` converts what it read into a sakbox
  checkpoint dict (:func:`convert_radio_backbone` and
  :func:`realize_parametrizations` are its parts);
* :func:`convert_radio_official_file` does both and writes the result.
"""
import argparse
import math
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from sakbox.utils.checkpoint import CheckpointError, read_checkpoint
from sakbox.utils.state_dict_fit import strip_wrapper_prefixes

#: Heads of the usual ViT widths (used when timm does not know the arch name).
HEADS_BY_WIDTH = {192: 3, 384: 6, 768: 12, 1024: 16, 1152: 16, 1280: 16, 1536: 24, 1664: 16}


def load_radio_official(path: str, unsafe: bool = False) -> Dict[str, Any]:
    """Read a released checkpoint (its ``args`` is an ``argparse.Namespace``).

    Args:
        path (str): The release file (``.pth.tar``).
        unsafe (bool): Read with ``weights_only=False`` (only for files you
            trust); otherwise ``weights_only=True`` with ``argparse.Namespace``
            allowed.

    Returns:
        dict: What the file holds (``args``, ``state_dict``, ...).

    Raises:
        CheckpointError: The file cannot be read;
            :func:`sakbox.utils.checkpoint.read_checkpoint`'s message (plus the
            ``--unsafe-load`` hint when weights-only loading refused it).
    """
    if unsafe:
        return read_checkpoint(path, map_location='cpu', weights_only=False)
    with torch.serialization.safe_globals([argparse.Namespace]):
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
    """Fold ``<m>.parametrizations.weight.*`` (spectral re-param, DAMP) into ``<m>.weight``.

    Args:
        sd (dict): A release state dict.
        eps (float): The re-parametrisation's epsilon (``args.spectral_reparam``).
        power_iterations (int): Power-method steps before the weights are
            folded (the official loader's modules are in training mode).

    Returns:
        dict: The state dict with plain ``<m>.weight`` tensors.
    """
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


def convert_radio_backbone(sd: Dict[str, torch.Tensor], args, num_heads: Optional[int],
                           min_cls_tokens: int = 0) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Map ``base_model.*`` to ``RADIOViT`` keys.

    Args:
        sd (dict): The ``base_model.`` part of the release state dict (prefix removed).
        args: The release's ``args``.
        num_heads (int, optional): Attention heads (else from timm / the width).
        min_cls_tokens (int): Summary tokens the kept adaptors read (largest slot + 1);
            the official model reads such a slot even beyond its own token count.

    Returns:
        tuple: The ``RADIOViT`` state dict and its constructor kwargs.

    Raises:
        NotImplementedError, KeyError: A backbone ``RADIOViT`` cannot hold
            exactly (E-RADIO, DINOv2 wrappers, other block variants).
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


def convert_radio_official(ckpt: Dict[str, Any], teachers: Optional[Sequence[str]] = None,
                           num_heads: Optional[int] = None,
                           dtype: torch.dtype = torch.float32) -> Dict[str, Any]:
    """Convert a loaded release to a sakbox ``RADIODistiller`` checkpoint dict.

    Args:
        ckpt (dict): What :func:`load_radio_official` returned (``args`` +
            ``state_dict`` and/or ``state_dict_ema``, the latter preferred).
        teachers (Sequence[str], optional): Adaptor heads to keep, by teacher
            name; None keeps every teacher of ``args.teachers``.
        num_heads (int, optional): Attention heads (else from timm's
            ``args.model`` or :data:`HEADS_BY_WIDTH`).
        dtype (torch.dtype): Floating-point dtype of the written tensors.

    Returns:
        dict: ``dict(state_dict, meta)``; ``meta['radio_config']`` holds the
        ``RADIOViT`` arguments, per-teacher options, backbone summary slots
        and data preprocessor statistics (see :func:`radio_config_fragment`).

    Raises:
        NotImplementedError, KeyError: An unsupported release or missing heads.
    """
    args = ckpt.get('args', argparse.Namespace())
    sd = ckpt['state_dict_ema'] if 'state_dict_ema' in ckpt else ckpt['state_dict']
    sr = getattr(args, 'spectral_reparam', False)
    sr = sr if isinstance(sr, dict) else {}
    sd = realize_parametrizations(strip_wrapper_prefixes(dict(sd)), eps=sr.get('eps', 1e-6),
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
    student_sd, student_kwargs = convert_radio_backbone(
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


def convert_radio_official_file(src: str, dst: str, teachers: Optional[Sequence[str]] = None,
                                num_heads: Optional[int] = None,
                                dtype: torch.dtype = torch.float32,
                                unsafe: bool = False) -> Dict[str, Any]:
    """Convert the release file ``src`` and write the sakbox checkpoint ``dst``.

    Args:
        src (str): The release file.
        dst (str): Output file; folders are created.
        teachers, num_heads, dtype: See :func:`convert_radio_official`.
        unsafe (bool): See :func:`load_radio_official`.

    Returns:
        dict: The written checkpoint (``state_dict``, ``meta``).

    Raises:
        CheckpointError: ``src`` cannot be read.
    """
    out = convert_radio_official(load_radio_official(src, unsafe), teachers, num_heads, dtype)
    if osp.dirname(dst):
        os.makedirs(osp.dirname(dst), exist_ok=True)
    torch.save(out, dst)
    return out


def radio_config_fragment(radio_config: Dict[str, Any]) -> Dict[str, Any]:
    """The ``RADIODistiller`` config entries of a converted checkpoint.

    Args:
        radio_config (dict): ``meta['radio_config']`` of a converted file.

    Returns:
        dict: ``student``, ``backbone_summary_slots``, ``teacher_options``,
        ``teacher_dims`` and ``data_preprocessor`` (the teacher configs
        themselves are the user's to give).
    """
    teachers = radio_config['teachers']
    return dict(student=radio_config['student'],
                backbone_summary_slots=radio_config['backbone_summary_slots'],
                teacher_options={n: {k: v for k, v in o.items() if k != 'feature_channels'}
                                 for n, o in teachers.items()},
                teacher_dims={n: [o['feature_channels']] for n, o in teachers.items()
                              if 'feature_channels' in o},
                data_preprocessor=dict(type='MultiTaskDataPreProcessor',
                                       **radio_config['data_preprocessor']))
