"""Tell where a checkpoint that does not fit comes from, and what to do with it.

Recognised: official SAK releases (``tsap.*`` adapter paths, ``backbone.`` /
``heads.`` of the stage-2 ``MultiTaskModel``, under a top-level ``model``
entry), official AM-RADIO releases (``args`` beside the weights,
``base_model.patch_generator.*``, ``input_conditioner.*``, ``_heads.*``, or the
Hugging Face ``radio_model.*`` layout) and checkpoints of another sakbox model
(by the model type stored in the checkpoint's meta, else by the key families).
"""
import re
from typing import Any, Dict, List, Optional

SAK_CONVERTER = 'tools/model_converters/sak_official_to_sakbox.py'
RADIO_CONVERTER = 'tools/model_converters/radio_official_to_sakbox.py'

#: Official SAK student keys (optionally under ``backbone.``, or ``student.`` of the
#: official distiller): sakbox names the adapter paths ``student.paths.*``.
_SAK_OFFICIAL = re.compile(r'^(backbone\.|student\.)?(tsap\.|mor\.\d+_|ts_aligners\.)')
_SAK_OFFICIAL_HEAD = re.compile(r'^heads\.[^.]+\.(linears|linear_fuse|last_conv)\.')
_RADIO_OFFICIAL = re.compile(r'^radio_model\.|^(model\.|base_model\.)patch_generator\.|'
                             r'^(input_conditioner|_heads|_feature_projections|'
                             r'_feature_normalizer)\.')
#: Key families of sakbox's top-level models, most specific first.
_SAKBOX_FAMILIES = (
    ('RADIODistiller', ('adaptors.', 'student.patch_generator.')),
    ('MultiTaskDistiller', ('decode_heads.', )),
    ('MultiTeacherDistiller', ('student.paths.', )),
)
_MODEL_TYPE = re.compile(r"^    type='([^']+)',?$")


def checkpoint_origin_hint(checkpoint: Dict[str, Any], fit) -> Optional[str]:
    """A hint naming what a non-fitting checkpoint looks like and how to use it.

    Args:
        checkpoint (dict): The whole checkpoint (meta, ``args`` ... included).
        fit (StateDictFit): Its comparison with the model.

    Returns:
        str or None: ``'Hint: ...'``, or None when nothing is recognised.
    """
    keys = list(fit.state_dict) + fit.ignored
    src = fit.source
    if any(_SAK_OFFICIAL.match(k) or _SAK_OFFICIAL_HEAD.match(k) for k in keys):
        return (f'Hint: {src} looks like an official SAK release (keys such as '
                f'{_example(keys, _SAK_OFFICIAL, _SAK_OFFICIAL_HEAD)}); convert it first: '
                f'python {SAK_CONVERTER} {src} CONVERTED.pth [--config CONFIG], then load '
                'CONVERTED.pth.')
    if 'args' in checkpoint or any(_RADIO_OFFICIAL.match(k) for k in keys):
        return (f'Hint: {src} looks like an official AM-RADIO release ('
                + ("an 'args' entry" if 'args' in checkpoint else
                   f'keys such as {_example(keys, _RADIO_OFFICIAL)}')
                + f'); convert it first: python {RADIO_CONVERTER} {src} CONVERTED.pth, and '
                'use the config fragment it prints.')
    theirs = _stored_model_type(checkpoint) or _family(keys)
    if theirs == fit.model_name:
        return (f'Hint: {src} is a {theirs} checkpoint like the model, but of another '
                'configuration (other tasks, teachers, depth or widths?); use the config it '
                'was trained with.')
    if theirs:
        extra = ''
        if theirs == 'MultiTeacherDistiller' and fit.model_name == 'MultiTaskDistiller':
            extra = (' A stage-1 checkpoint initialises a stage-2 stem through '
                     'model.student.checkpoint (or load_from for training); it has no heads '
                     'to evaluate.')
        return (f'Hint: {src} looks like a checkpoint of a {theirs} (its top-level parts: '
                f'{_parts(keys)}), while the config builds a {fit.model_name} (parts: '
                f'{_parts(fit.missing + fit.loaded + [k for k, _, _ in fit.mismatched])}). '
                f'Use the config it was trained with.{extra}')
    return None


def _example(keys: List[str], *patterns) -> str:
    found = [k for k in keys if any(p.match(k) for p in patterns)]
    return ', '.join(found[:3])


def _stored_model_type(checkpoint: Dict[str, Any]) -> Optional[str]:
    """The model type in the checkpoint's meta (converter's, or the Runner's config text)."""
    meta = checkpoint.get('meta')
    if not isinstance(meta, dict):
        return None
    if isinstance(meta.get('model_type'), str):
        return meta['model_type']
    text = meta.get('cfg')
    if not isinstance(text, str) or '\nmodel = dict(\n' not in '\n' + text:
        return None
    # The config text is only read, never executed: ``model = dict(`` then the
    # top level of that dict (4 spaces) until its closing parenthesis.
    block = ('\n' + text).split('\nmodel = dict(\n', 1)[1]
    for line in block.splitlines():
        if line == ')':
            break
        found = _MODEL_TYPE.match(line)
        if found:
            return found.group(1)
    return None


def _family(keys: List[str]) -> Optional[str]:
    for name, prefixes in _SAKBOX_FAMILIES:
        if any(k.startswith(prefixes) for k in keys):
            return name
    return None


def _parts(keys: List[str], limit: int = 6) -> str:
    parts = sorted({k.split('.')[0] if not k.startswith('student.') else
                    '.'.join(k.split('.')[:2]) for k in keys})
    more = ', ...' if len(parts) > limit else ''
    return '[' + ', '.join(parts[:limit]) + more + ']'
