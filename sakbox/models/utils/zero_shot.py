"""Zero-shot classification with a RADIO student's CLIP-adaptor summary.

The text side is an open_clip text tower: each class name is put into a set of
prompt templates, every prompt is embedded and L2-normalised, the per-class
mean is normalised again (prompt ensembling, as in CLIP). Images are embedded
by the student through the adaptor head of the CLIP teacher; the class with the
highest cosine similarity wins.
"""
import copy
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sakbox.utils.checkpoint import read_checkpoint

#: Single prompt.
SIMPLE_TEMPLATES: Tuple[str, ...] = ('a photo of a {}.', )
#: A small prompt ensemble in the style of CLIP's ImageNet evaluation.
ENSEMBLE_TEMPLATES: Tuple[str, ...] = (
    'a photo of a {}.', 'a bad photo of a {}.', 'a photo of many {}.', 'a sculpture of a {}.',
    'a rendering of a {}.', 'a cropped photo of the {}.', 'a bright photo of a {}.',
    'a photo of the large {}.', 'a photo of the small {}.', 'itap of a {}.')
TEMPLATE_SETS = dict(simple=SIMPLE_TEMPLATES, ensemble=ENSEMBLE_TEMPLATES)


def load_templates(spec: str) -> List[str]:
    """Templates by name (``'simple'``, ``'ensemble'``) or from a file (one per line, ``{}``)."""
    if spec in TEMPLATE_SETS:
        return list(TEMPLATE_SETS[spec])
    with open(spec) as f:
        templates = [line.strip() for line in f if line.strip()]
    bad = [t for t in templates if '{}' not in t]
    if not templates or bad:
        raise ValueError(f'template file {spec}: every line needs a "{{}}" placeholder '
                         f'(bad: {bad[:3]})')
    return templates


def build_open_clip_text_model(teacher_cfg: dict, seed: int = 0) -> Tuple[nn.Module, Callable]:
    """Build the full open_clip model (for its text tower) of a CLIP teacher config.

    Uses the ``OpenCLIPTeacher`` keys ``model_name``, ``pretrained_tag``,
    ``pretrained``, ``checkpoint`` (a *full* open_clip state dict, text tower
    included), ``img_size`` and ``model_kwargs``, the way the teacher does. The
    random init is seeded so that untrained towers (tests) are reproducible: with
    the seed the distiller built the teacher with (``teacher_init_seed`` + its
    index) a random teacher's text tower is the one that belongs to its image tower.

    Args:
        teacher_cfg (dict): The CLIP teacher's config.
        seed (int): Seed of the initialisation.

    Returns:
        tuple: ``(model, tokenizer)``.
    """
    import open_clip
    cfg = copy.deepcopy(dict(teacher_cfg))
    name = cfg.get('model_name', 'ViT-B-16')
    tag, ckpt = cfg.get('pretrained_tag'), cfg.get('checkpoint')
    use_hub = bool(cfg.get('pretrained')) and ckpt is None
    kwargs = dict(cfg.get('model_kwargs') or {})
    if cfg.get('img_size') is not None:  # as OpenCLIPTeacher: the same random init order
        if 'vision_cfg' in kwargs:
            kwargs['vision_cfg'] = dict(kwargs['vision_cfg'], image_size=cfg['img_size'])
        else:
            kwargs['force_image_size'] = cfg['img_size']
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(name, pretrained=tag if use_hub else None, **kwargs)
    if ckpt is not None:
        state = read_checkpoint(ckpt, map_location='cpu')
        state = state.get('state_dict', state)
        if not any(k.startswith(('token_embedding', 'text.', 'transformer.')) for k in state):
            raise KeyError(f'{ckpt} holds no text tower (no token_embedding/transformer keys); '
                           'zero-shot classification needs the full open_clip checkpoint')
        model.load_state_dict(state, strict=True)
    model.visual = None  # only the text tower is used
    tokenizer = open_clip.get_tokenizer(name, context_length=getattr(model, 'context_length',
                                                                      None))
    return model.eval(), tokenizer


@torch.no_grad()
def build_text_classifier(text_model: nn.Module, tokenizer: Callable,
                          classnames: Sequence[str], templates: Sequence[str],
                          batch_size: int = 256, device: str = 'cpu') -> Tensor:
    """Zero-shot classifier weights from prompted class names (prompt ensembling).

    Args:
        text_model (nn.Module): Has ``encode_text(tokens)`` (an open_clip model).
        tokenizer (Callable): Maps a list of strings to token ids.
        classnames (Sequence[str]): K class names.
        templates (Sequence[str]): T templates with a ``{}`` placeholder.
        batch_size (int): Prompts per text-tower call.
        device (str): Device of the text tower.

    Returns:
        Tensor: (D, K) unit-norm class embeddings (columns).
    """
    prompts = [t.format(c) for c in classnames for t in templates]
    embs = []
    for i in range(0, len(prompts), batch_size):
        tokens = tokenizer(prompts[i:i + batch_size]).to(device)
        embs.append(F.normalize(text_model.encode_text(tokens).float(), dim=-1))
    emb = torch.cat(embs).reshape(len(classnames), len(templates), -1)
    return F.normalize(emb.mean(dim=1), dim=-1).T.contiguous()


def zero_shot_logits(image_embeds: Tensor, classifier: Tensor,
                     logit_scale: float = 100.0) -> Tensor:
    """Cosine logits ``scale * normalise(image) @ classifier``.

    Args:
        image_embeds (Tensor): (N, D) image embeddings (e.g. the CLIP adaptor summary).
        classifier (Tensor): (D, K) from :func:`build_text_classifier`.
        logit_scale (float): CLIP's temperature.

    Returns:
        Tensor: (N, K) logits.
    """
    if image_embeds.shape[-1] != classifier.shape[0]:
        raise ValueError(f'zero-shot: image embeddings have {image_embeds.shape[-1]} dims but '
                         f'the text classifier {classifier.shape[0]}; the CLIP adaptor must '
                         "predict the teacher's projected image embedding (summary_channels)")
    return logit_scale * F.normalize(image_embeds.float(), dim=-1) @ classifier.to(
        image_embeds.device)


def classnames_from(dataset_classes: Sequence[str], classes_file: Optional[str] = None
                    ) -> List[str]:
    """Readable class names: a file (one per line, folder order) or the folder names."""
    if classes_file:
        with open(classes_file) as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) != len(dataset_classes):
            raise ValueError(f'{classes_file} has {len(names)} names but the dataset '
                             f'{len(dataset_classes)} classes')
        return names
    return [c.replace('_', ' ') for c in dataset_classes]
