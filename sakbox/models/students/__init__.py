"""Students (the models distilled into): SAK ViT, RADIO ViT, E-RADIO."""
from .eradio import ERADIO
from .radio_vit import RADIOViT
from .sak_vit import SAKViT

__all__ = ['SAKViT', 'RADIOViT', 'ERADIO']
