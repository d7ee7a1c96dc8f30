"""Converters of official checkpoints (SAK, AM-RADIO) to sakbox checkpoints.

Both modules have the same three levels: ``load_<x>_official`` reads a file,
``convert_<x>_official`` converts what it read into a sakbox checkpoint dict
and ``convert_<x>_official_file`` does both and writes the result. The SAK
key map (official layout -> sakbox keys, no file I/O) is
:mod:`sakbox.converters.sak_official_keys`. The CLIs are
``tools/model_converters/{sak,radio}_official_to_sakbox.py``.
"""
from .radio_official import (
    convert_radio_backbone,
    convert_radio_official,
    convert_radio_official_file,
    input_statistics,
    load_radio_official,
    radio_config_fragment,
    realize_parametrizations,
)
from .sak_official import (
    check_sak_file_with_config,
    convert_sak_official,
    convert_sak_official_file,
    load_sak_official,
    unwrap_sak_official,
)
from .sak_official_keys import (
    OfficialLayout,
    UnmappedKeysError,
    convert_sak_official_state_dict,
    detect_stage,
    parse_teacher_names,
    read_layout,
)

__all__ = [
    'load_sak_official', 'unwrap_sak_official', 'convert_sak_official',
    'convert_sak_official_state_dict', 'convert_sak_official_file', 'check_sak_file_with_config',
    'detect_stage', 'read_layout', 'parse_teacher_names', 'OfficialLayout', 'UnmappedKeysError',
    'load_radio_official', 'convert_radio_official', 'convert_radio_official_file',
    'convert_radio_backbone', 'realize_parametrizations', 'input_statistics',
    'radio_config_fragment'
]
