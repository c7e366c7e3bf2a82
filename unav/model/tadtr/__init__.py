"""TadTR baseline (Table 2 of the UnAV paper): see model.py for the settings and the choices made."""
from .model import TadTR

__all__ = ["TadTR"]
