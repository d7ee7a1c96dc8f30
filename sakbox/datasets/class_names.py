"""Class names of the supported datasets (palettes: :func:`sakbox.structures.voc_palette`)."""
from typing import Tuple

#: NYU-v2 40-class labels (Gupta et al.); label ``i`` here is value ``i + 1`` in the pngs.
NYU40_CLASSES: Tuple[str, ...] = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf',
    'picture', 'counter', 'blinds', 'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror',
    'floor mat', 'clothes', 'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel',
    'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp',
    'bathtub', 'bag', 'otherstructure', 'otherfurniture', 'otherprop')

#: PASCAL VOC classes used for PASCAL-Context multi-task semantic segmentation (21).
VOC_CLASSES: Tuple[str, ...] = (
    'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
    'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
    'train', 'tvmonitor')

#: Grouped PASCAL-Part human parts (7 classes, 0 = background of the person map).
HUMAN_PART_CLASSES: Tuple[str, ...] = (
    'background', 'head', 'torso', 'upper arm', 'lower arm', 'upper leg', 'lower leg')

#: PASCAL-Part part name -> grouped human-part label (the multi-task benchmark's grouping).
HUMAN_PART_GROUPS = {
    'hair': 1, 'head': 1, 'lear': 1, 'lebrow': 1, 'leye': 1, 'mouth': 1, 'nose': 1, 'rear': 1,
    'rebrow': 1, 'reye': 1, 'neck': 2, 'torso': 2, 'luarm': 3, 'ruarm': 3, 'lhand': 4,
    'llarm': 4, 'rhand': 4, 'rlarm': 4, 'luleg': 5, 'ruleg': 5, 'lfoot': 6, 'llleg': 6,
    'rfoot': 6, 'rlleg': 6}

#: VOC index of the person class in PASCAL-Part annotations.
PERSON_CLASS_IND = 15
