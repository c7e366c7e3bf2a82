"""VSGN baseline (Table 2 of UnAV): xGPN (graph.py, pyramid.py), anchors and targets (anchors.py), heads and
boundary adjustment (heads.py), model-side self-stitching (stitching.py), the model (model.py)."""
from .model import VSGN

__all__ = ["VSGN"]
