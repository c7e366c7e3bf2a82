"""The event files of one detected video: events.json (the events with everything needed to read them: source,
checkpoint, threshold, feature settings, timing, file names) and events.csv (the events alone)."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

from ..io import write_json, write_text

EVENTS_JSON = "events.json"
EVENTS_CSV = "events.csv"
FORMAT = "unav-detect-v1"


def to_events(results: Sequence[dict], threshold: float) -> list[dict]:
    """Prediction entries -> events {start, end, label, score} with score >= threshold, by start time."""
    events = [{"start": float(r["segment"][0]), "end": float(r["segment"][1]), "label": r["label"],
               "score": float(r["score"])} for r in results if r["score"] >= threshold]
    return sorted(events, key=lambda e: (e["start"], -e["score"], e["label"]))


def events_csv(events: Sequence[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["start", "end", "label", "score"])
    for e in events:
        w.writerow([f"{e['start']:.4f}", f"{e['end']:.4f}", e["label"], f"{e['score']:.6f}"])
    return buf.getvalue()


def write_event_files(folder: Path, doc: dict) -> None:
    """events.json (`doc`, whose "version" is FORMAT) and events.csv (its "events"), each written atomically."""
    write_json(folder / EVENTS_JSON, {"version": FORMAT, **doc})
    write_text(folder / EVENTS_CSV, events_csv(doc["events"]))
