"""Zero-shot classification of an image folder with a RADIO student's CLIP adaptor.

The student embeds each image through the adaptor head of the CLIP teacher
(``--teacher``); the text tower of that teacher's open_clip model embeds the
prompted class names (prompt ensembling); the nearest class wins.

Example::

    python tools/analysis_tools/zero_shot_classify.py \\
        configs/radio/radio_vit-b_in1k.py work_dirs/radio/iter_100000.pth \\
        --data-root data/imagenet/val --classes data/imagenet/classnames.txt \\
        --teacher clip --templates ensemble --img-size 224 --out zs.json
"""
import argparse
import json

import torch

from sakbox.apis import init_model
from sakbox.models.utils.knn import extract_embeddings, image_folder_loader, topk_accuracy
from sakbox.models.utils.zero_shot import (
    build_open_clip_text_model,
    build_text_classifier,
    classnames_from,
    load_templates,
    zero_shot_logits,
)


def parse_args(argv=None):  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--data-root', required=True, help='folder of <class>/<image> files')
    p.add_argument('--classes', help='class names, one per line, in sorted-folder order')
    p.add_argument('--teacher', default='clip', help='name of the CLIP teacher in the config')
    p.add_argument('--templates', default='ensemble',
                   help="'simple', 'ensemble' or a file of templates with {}")
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--out', help='write accuracies and per-image predictions as JSON')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Run the evaluation; return ``dict(top1, top5, predictions, ...)``."""
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, device=args.device)
    teachers = model.cfg.model.get('teachers', {})
    if args.teacher not in teachers:
        raise KeyError(f'--teacher {args.teacher!r} is not a teacher of {args.config} '
                       f'({sorted(teachers)})')
    # A randomly initialised teacher (tests, demos) was built under this seed: its
    # text tower is then the one of the image tower the student learnt from.
    base_seed = model.cfg.model.get('teacher_init_seed')
    seed = 0 if base_seed is None else int(base_seed) + list(teachers).index(args.teacher)
    text_model, tokenizer = build_open_clip_text_model(teachers[args.teacher], seed=seed)
    text_model.to(args.device)
    loader, folders = image_folder_loader(args.data_root, args.img_size, args.batch_size)
    classnames = classnames_from(folders, args.classes)
    classifier = build_text_classifier(text_model, tokenizer, classnames,
                                       load_templates(args.templates), device=args.device)
    embeds, labels = extract_embeddings(model, loader, feature=f'adaptor:{args.teacher}')
    logits = zero_shot_logits(embeds.to(args.device), classifier).cpu()
    result = dict(topk_accuracy(logits, labels), num_images=len(labels),
                  num_classes=len(classnames), templates=args.templates,
                  predictions=logits.argmax(1).tolist())
    print(f'zero-shot top-1 {result["top1"]:.2f}%  top-5 {result["top5"]:.2f}%  '
          f'({len(labels)} images, {len(classnames)} classes)')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
