"""From model outputs to scored events: decoding (postprocess), NMS and the paper's detection mAP (metrics)."""
