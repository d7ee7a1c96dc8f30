"""Zero-shot classification with a RADIO student's CLIP-adaptor summary.

The text side is open_clip's: :func:`open_clip.build_zero_shot_classifier`
puts each class name into every prompt template, embeds and L2-normalises the
prompts and normalises the per-class mean again (prompt ensembling, as in
CLIP), with open_clip's standard templates
(:mod:`open_clip.zero_shot_metadata`) and ImageNet class names. Images are
embedded by the student through the adaptor head of the CLIP teacher; the
class with the highest cosine similarity wins.
"""
import copy
import re
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sakbox.utils.checkpoint import read_checkpoint

#: A template: a ``str.format`` string with ``{}`` or a callable of the class name.
Template = Union[str, Callable[[str], str]]
#: Named template sets of ``--templates``: open_clip's ``SIMPLE_IMAGENET_TEMPLATES``
#: (7) and ``OPENAI_IMAGENET_TEMPLATES`` (CLIP's 80-prompt ImageNet ensemble).
TEMPLATE_SETS = dict(simple='SIMPLE_IMAGENET_TEMPLATES', ensemble='OPENAI_IMAGENET_TEMPLATES')
#: ``--classes`` value for open_clip's ``IMAGENET_CLASSNAMES``.
IMAGENET = 'imagenet'
_WORDNET_ID = re.compile(r'^n\d{8}$')


def load_templates(spec: str) -> List[Template]:
    """Prompt templates by name or from a file.

    Args:
        spec (str): ``'simple'`` or ``'ensemble'`` (open_clip's standard sets,
            see :data:`TEMPLATE_SETS`), or a file with one template per line,
            each with a ``{}`` placeholder.

    Returns:
        List: The templates (strings or open_clip's callables).

    Raises:
        ValueError: A template file line has no ``{}``.
    """
    if spec in TEMPLATE_SETS:
        from open_clip import zero_shot_metadata
        return list(getattr(zero_shot_metadata, TEMPLATE_SETS[spec]))
    with open(spec) as f:
        templates = [line.strip() for line in f if line.strip()]
    bad = [t for t in templates if '{}' not in t]
    if not templates or bad:
        raise ValueError(f'template file {spec}: every line needs a "{{}}" placeholder '
                         f'(bad: {bad[:3]})')
    return templates


def fill_template(template: Template, classname: str) -> str:
    """One prompt: ``template.format(classname)`` or ``template(classname)``.

    Args:
        template: A format string or a callable (open_clip's templates).
        classname (str): The class name.

    Returns:
        str: The prompt.
    """
    return template(classname) if callable(template) else template.format(classname)


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


def build_text_classifier(text_model: nn.Module, tokenizer: Callable,
                          classnames: Sequence[str], templates: Sequence[Template],
                          num_classes_per_batch: Optional[int] = 10,
                          device: str = 'cpu') -> Tensor:
    """Zero-shot classifier weights from prompted class names (prompt ensembling).

    This is :func:`open_clip.build_zero_shot_classifier`, in float32.

    Args:
        text_model (nn.Module): Has ``encode_text(tokens, normalize)`` (an
            open_clip model).
        tokenizer (Callable): Maps a list of strings to token ids.
        classnames (Sequence[str]): K class names.
        templates (Sequence): T templates (format strings with ``{}`` or
            callables; see :func:`load_templates`).
        num_classes_per_batch (int, optional): Classes per text-tower call
            (all at once if None).
        device (str): Device of the text tower.

    Returns:
        Tensor: (D, K) unit-norm class embeddings (columns).
    """
    from open_clip import build_zero_shot_classifier
    if len({callable(t) for t in templates}) > 1:  # open_clip wants one kind
        templates = [(lambda c, t=t: fill_template(t, c)) for t in templates]
    return build_zero_shot_classifier(text_model, tokenizer, list(classnames), list(templates),
                                      num_classes_per_batch=num_classes_per_batch,
                                      device=device).float()


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


def classnames_from(dataset_classes: Sequence[str], classes: Optional[str] = None
                    ) -> List[str]:
    """Readable class names for the prompts.

    Args:
        dataset_classes (Sequence[str]): The dataset's class folders, sorted.
        classes (str, optional): ``'imagenet'`` (open_clip's
            ``IMAGENET_CLASSNAMES``, for the 1000 sorted WordNet-id folders of
            ImageNet-1k) or a file of names (one per line, in folder order).
            None: open_clip's ImageNet names if the folders are the 1000
            WordNet ids, else the folder names with ``_`` as spaces.

    Returns:
        List[str]: One name per class.

    Raises:
        ValueError: The names do not match the number of classes.
    """
    if classes is None and len(dataset_classes) == 1000 and all(
            _WORDNET_ID.match(c) for c in dataset_classes):
        classes = IMAGENET
    if classes == IMAGENET:
        from open_clip import IMAGENET_CLASSNAMES
        names, source = list(IMAGENET_CLASSNAMES), "open_clip's IMAGENET_CLASSNAMES"
    elif classes:
        with open(classes) as f:
            names = [line.strip() for line in f if line.strip()]
        source = classes
    else:
        return [c.replace('_', ' ') for c in dataset_classes]
    if len(names) != len(dataset_classes):
        raise ValueError(f'{source} has {len(names)} names but the dataset '
                         f'{len(dataset_classes)} classes')
    return names
