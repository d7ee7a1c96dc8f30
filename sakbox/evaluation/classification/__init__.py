"""Classification evaluation of frozen embeddings: weighted k-NN and CLIP zero-shot.

The metric code (:mod:`.knn`, :mod:`.zero_shot`, :mod:`.accuracy`) works on
embedding tensors; :mod:`.embeddings` extracts them from a RADIO model and
:mod:`.image_folder_loader` builds the loader over an image folder;
:mod:`.evaluate` runs both on image folders. The CLIs are
``tools/analysis_tools/{knn_classify,zero_shot_classify}.py``.
"""
from .accuracy import topk_accuracy
from .embeddings import extract_embeddings, select_embedding
from .evaluate import evaluate_knn, evaluate_zero_shot
from .image_folder_loader import image_folder_loader
from .knn import knn_classify
from .zero_shot import (
    TEMPLATE_SETS,
    build_open_clip_text_model,
    build_text_classifier,
    classnames_from,
    fill_template,
    load_templates,
    zero_shot_logits,
)

__all__ = [
    'evaluate_knn', 'evaluate_zero_shot', 'knn_classify', 'topk_accuracy', 'extract_embeddings', 'select_embedding',
    'image_folder_loader', 'build_open_clip_text_model', 'build_text_classifier',
    'classnames_from', 'fill_template', 'load_templates', 'zero_shot_logits', 'TEMPLATE_SETS'
]
