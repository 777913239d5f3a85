"""Melody quality: the issue's measured goals, for composed songs and, with the same code,
for held-out folk tunes (scripts/build_melody_model.py stores their figures).

Figures over notes and intervals pool every note of every tune (a chorus sung three times
counts three times, as it is heard); song shares are over songs.

- in_key: notes whose pitch class is in the tune's scale (major; natural minor, whose
  raised 6th and 7th also count);
- phrase_final_135: phrases (lyric lines) whose last note is scale degree 1, 3 or 5;
- range_ok: tunes whose range is at most an octave and a fifth (19 semitones);
- leaps_over_octave: intervals larger than 12 semitones;
- stepwise: intervals of 1 or 2 semitones; intervals: shares of |interval| by bin;
- no_copy: tunes sharing no run of 9 notes (8 intervals) with any corpus tune;
- kar_ok: songs whose .kar holds one lyric event per syllable, in order, spelling the lyrics;
- compose_ms: time to compose the melody and write its MIDI, p50 and p99.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from importlib import resources

from billion_songs.core.melody import MELODY_VERSION, compose, to_kar, to_midi
from billion_songs.core.melody.copycheck import shared_runs
from billion_songs.core.melody.kar import lyric_events, lyric_text
from billion_songs.core.melody.model import degree_of
from billion_songs.core.song import Brief, Section, Song

RANGE_LIMIT = 19  # an octave and a fifth, in semitones
INTERVAL_BINS = (("unison", 0, 0), ("step 1-2", 1, 2), ("third 3-4", 3, 4), ("4th-5th 5-7", 5, 7),
                 ("6th-octave 8-12", 8, 12), ("over octave", 13, 999))
GOALS = {"in_key": 0.98, "phrase_final_135": 0.85, "range_ok": 1.0, "leaps_over_octave": 0.0,
         "no_copy": 0.99, "kar_ok": 1.0, "compose_ms_p99": 50.0}


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def figures_of_tunes(tunes: Sequence[dict]) -> dict:
    """Figures of tunes given as {"tonic": midi, "mode": "major"|"minor", "phrases":
    [[midi, ...], ...]} (the tonic's octave does not matter)."""
    notes = in_key = phrases = final_ok = range_ok = 0
    intervals: list[int] = []
    for tune in tunes:
        pitches = [p for phrase in tune["phrases"] for p in phrase]
        for p in pitches:
            notes += 1
            in_key += degree_of(p - tune["tonic"], tune["mode"])[1]
        for phrase in tune["phrases"]:
            phrases += 1
            final_ok += degree_of(phrase[-1] - tune["tonic"], tune["mode"])[0] % 7 in (0, 2, 4)
        range_ok += max(pitches) - min(pitches) <= RANGE_LIMIT
        intervals.extend(abs(b - a) for a, b in zip(pitches, pitches[1:]))
    bins = {name: _share(sum(lo <= i <= hi for i in intervals), len(intervals)) for name, lo, hi in INTERVAL_BINS}
    return {
        "notes": notes,
        "in_key": _share(in_key, notes),
        "phrase_final_135": _share(final_ok, phrases),
        "range_ok": _share(range_ok, len(tunes)),
        "leaps_over_octave": bins["over octave"],
        "stepwise": bins["step 1-2"],
        "intervals": bins,
    }


def song_from_dict(data: dict) -> Song:
    """A Song back from its JSON form (`billion-songs songs --json`, Song.as_dict)."""
    brief = Brief(**data["brief"]) if data.get("brief") else None
    sections = tuple(Section(s["kind"], tuple(s["lines"])) for s in data.get("sections") or ())
    return Song(id=data["id"], title=data["title"], lyrics=data["lyrics"], model_version=data["model_version"],
                ok=data.get("ok", True), attempts=data.get("attempts", 1), rejected=tuple(data.get("rejected", ())),
                brief=brief, sections=sections)


def _page_text(text: str) -> str:
    """Lyrics as the page shows them: words split by one space, stanzas by one blank line."""
    stanzas = [[" ".join(line.split()) for line in block.split("\n") if line.strip()]
               for block in text.strip().split("\n\n")]
    return "\n\n".join("\n".join(lines) for lines in stanzas if lines)


def kar_matches(song: Song, kar: bytes, notes: int) -> bool:
    """One lyric event per note (syllable), in order, spelling the song's lyrics."""
    events = lyric_events(kar)
    return len(events) == notes and _page_text(lyric_text(events)) == _page_text(song.lyrics)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def song_figures(songs: Sequence[Song]) -> dict:
    """The goals' figures over the melodies of `songs` (failed songs are skipped: they
    have no lyrics to sing)."""
    tunes, times, copies, kar_ok, sung = [], [], 0, 0, 0
    singable = [s for s in songs if s.ok and s.lyrics.strip()]
    if singable:
        to_midi(compose(singable[0]))  # warm-up: the tables and dictionaries load once per process
    for song in songs:
        if not song.ok or not song.lyrics.strip():
            continue
        sung += 1
        started = time.perf_counter()
        melody = compose(song)
        to_midi(melody)
        times.append((time.perf_counter() - started) * 1000)
        phrases: dict[int, list[int]] = {}
        for note in melody.notes:
            phrases.setdefault(note.line, []).append(note.pitch)
        tunes.append({"tonic": melody.tonic, "mode": melody.mode, "phrases": list(phrases.values())})
        copies += shared_runs([n.pitch for n in melody.notes]) > 0
        kar_ok += kar_matches(song, to_kar(melody), len(melody.notes))
    figures = figures_of_tunes(tunes)
    figures.update(songs=sung, no_copy=_share(sung - copies, sung), kar_ok=_share(kar_ok, sung),
                   compose_ms_p50=_percentile(times, 0.50), compose_ms_p99=_percentile(times, 0.99))
    return figures


def corpus_figures() -> dict:
    """The held-out corpus tunes' figures, stored by scripts/build_melody_model.py."""
    data = resources.files("billion_songs.core.melody") / "data" / "corpus_stats.json"
    return json.loads(data.read_text(encoding="utf-8"))


def goals(songs: dict, corpus: dict) -> dict[str, bool]:
    """Each goal of the issue, met or not. Stepwise motion within +-10% of the corpus'
    share (relative); each interval bin within +-10 points of the corpus' share."""
    met = {
        "in_key >= 98%": songs["in_key"] >= GOALS["in_key"],
        "phrase_final_135 >= 85%": songs["phrase_final_135"] >= GOALS["phrase_final_135"],
        "range_ok = 100%": songs["range_ok"] >= GOALS["range_ok"],
        "leaps_over_octave = 0%": songs["leaps_over_octave"] <= GOALS["leaps_over_octave"],
        "stepwise within +-10% of corpus": abs(songs["stepwise"] - corpus["stepwise"]) <= 0.1 * corpus["stepwise"],
        "intervals within +-10 points of corpus": all(
            abs(songs["intervals"][name] - corpus["intervals"][name]) <= 0.10 for name, _, _ in INTERVAL_BINS),
        "no_copy >= 99%": songs["no_copy"] >= GOALS["no_copy"],
        "kar_ok = 100%": songs["kar_ok"] >= GOALS["kar_ok"],
        "compose_ms_p99 <= 50": songs["compose_ms_p99"] <= GOALS["compose_ms_p99"],
    }
    return met


def melody_report(songs: Sequence[Song], source: str) -> dict:
    figures = song_figures(songs)
    corpus = corpus_figures()
    return {"source": source, "melody_version": MELODY_VERSION, "songs": figures, "corpus": corpus,
            "goals": goals(figures, corpus)}


def format_melody_table(report: dict) -> str:
    songs, corpus = report["songs"], report["corpus"]
    pct = lambda v: f"{100 * v:6.1f}%"  # noqa: E731
    rows = [("figure", f"songs ({songs['songs']})", f"corpus ({corpus.get('tunes', '?')} tunes)")]
    for name in ("in_key", "phrase_final_135", "range_ok", "leaps_over_octave", "stepwise"):
        rows.append((name, pct(songs[name]), pct(corpus[name])))
    for name, _, _ in INTERVAL_BINS:
        rows.append((f"  interval {name}", pct(songs["intervals"][name]), pct(corpus["intervals"][name])))
    rows.append(("no_copy (shared run <= 8 notes)", pct(songs["no_copy"]), ""))
    rows.append(("kar_ok", pct(songs["kar_ok"]), ""))
    rows.append(("compose+MIDI ms p50 / p99", f"{songs['compose_ms_p50']:.1f} / {songs['compose_ms_p99']:.1f}", ""))
    width = max(len(r[0]) for r in rows)
    lines = [f"melody {report['melody_version']} over {report['source']}"]
    lines += [f"{a:<{width}}  {b:>14}  {c:>16}" for a, b, c in rows]
    lines.append("goals: " + ", ".join(f"{name} {'OK' if ok else 'MISSED'}" for name, ok in report["goals"].items()))
    return "\n".join(lines)
