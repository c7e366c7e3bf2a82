"""`unav detect`: the user's own videos to events: inputs, the checkpoint's feature settings, the detector
(extract -> localize -> timeline/page), event files and all-or-nothing output folders."""
