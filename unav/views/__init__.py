"""What people look at: event timelines (Fig. 5), training and per-class AP charts, the HTML player, the
workflow report."""
