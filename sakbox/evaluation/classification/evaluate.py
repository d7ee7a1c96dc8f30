"""kNN and zero-shot evaluation of a RADIO model on image folders (what the tools run)."""
from typing import Optional

from torch import nn

from .accuracy import topk_accuracy
from .embeddings import extract_embeddings
from .image_folder_loader import image_folder_loader
from .knn import knn_classify
from .zero_shot import (
    build_open_clip_text_model,
    build_text_classifier,
    classnames_from,
    load_templates,
    zero_shot_logits,
)


def evaluate_knn(model: nn.Module, train_root: str, val_root: str, feature: str = 'summary',
                 k: int = 20, temperature: float = 0.07, img_size: int = 224,
                 batch_size: int = 32, max_train: Optional[int] = None) -> dict:
    """Weighted k-NN accuracy of ``val_root`` against the memory bank ``train_root``.

    Args:
        model (nn.Module): A ``RADIODistiller`` (see :func:`extract_embeddings`).
        train_root (str): ``<class>/<image>`` folder of the memory bank.
        val_root (str): ``<class>/<image>`` folder to classify (same classes).
        feature (str): Embedding, see :func:`extract_embeddings`.
        k (int): Neighbours.
        temperature (float): Vote temperature.
        img_size (int): Square input size.
        batch_size (int): Images per batch.
        max_train (int, optional): Use at most this many training images.

    Returns:
        dict: ``top1``, ``top5`` (percent), ``k``, ``temperature``, ``feature``,
        ``num_train``, ``num_val``.

    Raises:
        ValueError: The two folders have other classes.
    """
    train_loader, train_classes = image_folder_loader(train_root, img_size, batch_size)
    val_loader, val_classes = image_folder_loader(val_root, img_size, batch_size)
    if train_classes != val_classes:
        raise ValueError(f'class folders differ: {train_root} has {len(train_classes)}, '
                         f'{val_root} has {len(val_classes)} (or other names)')
    train_x, train_y = extract_embeddings(model, train_loader, feature, max_train)
    val_x, val_y = extract_embeddings(model, val_loader, feature)
    scores = knn_classify(train_x, train_y, val_x, len(train_classes), k=k,
                          temperature=temperature)
    return dict(topk_accuracy(scores, val_y), k=k, temperature=temperature, feature=feature,
                num_train=len(train_y), num_val=len(val_y))


def evaluate_zero_shot(model: nn.Module, data_root: str, teacher: str = 'clip',
                       classes: Optional[str] = None, templates: str = 'ensemble',
                       img_size: int = 224, batch_size: int = 32, device: str = 'cpu') -> dict:
    """Zero-shot accuracy of an image folder through the CLIP teacher's adaptor.

    The text tower is the open_clip model of the teacher's config; a random
    teacher (tests, demos) is rebuilt under the distiller's
    ``teacher_init_seed`` + its index, so its text tower is the one of the
    image tower the student learnt from.

    Args:
        model (nn.Module): A ``RADIODistiller`` built by ``init_model`` (its
            ``cfg.model.teachers`` names the CLIP teacher).
        data_root (str): ``<class>/<image>`` folder.
        teacher (str): Name of the CLIP teacher.
        classes (str, optional): See :func:`classnames_from`.
        templates (str): See :func:`load_templates`.
        img_size (int): Square input size.
        batch_size (int): Images per batch.
        device (str): Device of the text tower and the logits.

    Returns:
        dict: ``top1``, ``top5`` (percent), ``num_images``, ``num_classes``,
        ``templates`` and per-image ``predictions``.

    Raises:
        KeyError: ``teacher`` is not a teacher of the model's config.
    """
    teachers = model.cfg.model.get('teachers', {})
    if teacher not in teachers:
        raise KeyError(f'--teacher {teacher!r} is not a teacher of the config '
                       f'({sorted(teachers)})')
    base_seed = model.cfg.model.get('teacher_init_seed')
    seed = 0 if base_seed is None else int(base_seed) + list(teachers).index(teacher)
    text_model, tokenizer = build_open_clip_text_model(teachers[teacher], seed=seed)
    text_model.to(device)
    loader, folders = image_folder_loader(data_root, img_size, batch_size)
    classnames = classnames_from(folders, classes)
    classifier = build_text_classifier(text_model, tokenizer, classnames,
                                       load_templates(templates), device=device)
    embeds, labels = extract_embeddings(model, loader, feature=f'adaptor:{teacher}')
    logits = zero_shot_logits(embeds.to(device), classifier).cpu()
    return dict(topk_accuracy(logits, labels), num_images=len(labels),
                num_classes=len(classnames), templates=templates,
                predictions=logits.argmax(1).tolist())
