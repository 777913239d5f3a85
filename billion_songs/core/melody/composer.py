"""Composing a song's melody: a pure function of the stored song.

    song ─▶ stanzas (sections, or the lyrics' stanzas) ─▶ syllables with stress per line
         ─▶ style (key, mode, tempo, meter) from the brief
         ─▶ per line: rhythm (rhythm.place) and scale degrees (the Markov model)
         ─▶ notes in time, one bar-aligned phrase per line ─▶ a chord per bar

Form: each (section kind, line number) has one tune, drawn where it is first sung. A
chorus sung again has the same words, so it gets the same rhythm and the same notes,
exactly. A later verse's line
with other words follows the verse tune: each note is drawn near the degree the tune sings
at that moment of the phrase (model.FOLLOW_KERNEL), and it ends on the tune's last note;
all verses' line n share one phrase length (the longest they need).
A bridge draws its own tune, starting on the 4th or higher and ending on the 5th so that
the chorus after it returns home; a chorus starts on the 3rd or higher. Every phrase ends
on degree 1, 3 or 5, every verse's and chorus' last phrase on the tonic, a bridge's on the
5th above it.

Randomness: one key per (section kind, line number, attempt; and stanza for a following
line) from `rng.derive(id, "melody", ...)` and `rng.uniforms` over the note index, so a
tune depends only on the id and the words. A line is redrawn (new attempt) while it would
sing a run of 9 notes found in a corpus tune (copycheck.py): note by note as it is
drawn, and as a whole against the notes already fixed after it.
"""

from __future__ import annotations

import numpy as np

from billion_songs.core.melody.chords import chords_for
from billion_songs.core.melody.copycheck import RUN, copies_corpus, corpus_set, shared_runs
from billion_songs.core.melody.melody import Melody, Note
from billion_songs.core.melody.model import FIRST, LAST, MIDDLE, PENULTIMATE, load_model, semitones_of
from billion_songs.core.melody.rhythm import METERS, bars_for, place
from billion_songs.core.melody.stanzas import stanzas_of
from billion_songs.core.melody.style import style_for
from billion_songs.core.melody.syllables import line_syllables, load_dictionaries
from billion_songs.core.melody.version import MELODY_VERSION
from billion_songs.core.rng import derive, uniforms
from billion_songs.core.song import Song
from billion_songs.core.songwriting.plan import brief_for

LOW, HIGH = -3, 8  # the fifth below the tonic to the second above its octave: 19 semitones at most
MAX_LEAP = 7  # degrees: an octave
KIND_CODES = {"verse": 1, "chorus": 2, "bridge": 3}
START_FLOOR = {"chorus": 2, "bridge": 3}  # lowest degree a section's first note may take
ATTEMPTS = 12  # draws of a line's tune before the least copying one is kept
REDRAWS = 8  # draws of one note before a copied run is let be


def _bucket(i: int, n: int) -> int:
    if i == n - 1:
        return LAST
    if i == 0:
        return FIRST
    return PENULTIMATE if i == n - 2 else MIDDLE


def _draw_line(song_id: int, slot: int, n: int, context: tuple[int, int], history: list[int], style, *,
               first_range: tuple[int, int], finals: tuple[int, ...], targets: list[int] | None = None) -> list[int]:
    """A line's degrees, note by note. A note that would end a run of 9 notes found in a
    corpus tune (with the `history` of pitches sung before) is drawn again without that
    degree, up to REDRAWS times."""
    model = load_model()
    key = np.array([derive(song_id, "melody", slot)], dtype=np.uint64)
    draws = uniforms(key, 0, np.arange(n * REDRAWS, dtype=np.uint64)[None, :])[0].tolist()
    prev2, prev1 = context
    pitches = history[-RUN:]
    out = []
    for i in range(n):
        bucket = _bucket(i, n)
        low, high = first_range if i == 0 else (LOW, HIGH)
        allowed = [d for d in range(low, high + 1) if abs(d - prev1) <= MAX_LEAP
                   and (bucket != LAST or d in finals)
                   and (i != n - 2 or any(abs(d - f) <= MAX_LEAP for f in finals))]  # the end stays in reach
        if not allowed:  # a line that follows a tune from far away: take the nearest degree
            allowed = [min(range(low, high + 1), key=lambda d: (abs(d - prev1), d))]
        target = None if targets is None else targets[i]
        for r in range(REDRAWS):
            d = model.draw(bucket, prev2, prev1, draws[i * REDRAWS + r], allowed, target)
            pitch = style.tonic + semitones_of(d, style.mode)
            if len(allowed) == 1 or not copies_corpus([*pitches, pitch]):
                break
            allowed = [a for a in allowed if a != d]
        out.append(d)
        pitches.append(pitch)
        prev2, prev1 = prev1, d
    return out


def _targets(template_onsets: list[int], template_degrees: list[int], onsets: list[int]) -> list[int]:
    """For other words sung to a template phrase: the degree the template sings at each
    note's onset."""
    out = []
    for t in onsets:
        idx = max((i for i, s in enumerate(template_onsets) if s <= t), default=0)
        out.append(template_degrees[idx])
    return out


def _draw_fresh(song_id: int, slot: int, n: int, context: tuple[int, int], sung: list[int], after: list[int],
                style, stanza_start: bool, **limits):
    """A line's degrees, redrawn (up to ATTEMPTS times) while it would sing a run of 9
    notes found in a corpus tune, counting the notes already fixed after it (`after`: a
    chorus' tune, sung next) and, for a stanza's first line, each note a stanza may end on;
    the draw with the fewest such runs is kept. A line following a tune (`targets`) is
    drawn free of it in the later half of the attempts."""
    best, best_hits = None, None
    for attempt in range(ATTEMPTS):
        if attempt == ATTEMPTS // 2:
            limits["targets"] = None  # a line that follows a tune too closely to avoid a copy: let it go free
        degrees = _draw_line(song_id, slot + (attempt << 20), n, context, sung, style, **limits)
        line = [style.tonic + semitones_of(d, style.mode) for d in degrees]
        hits = shared_runs(sung[-RUN:] + line + after[:RUN])
        if stanza_start:
            # Sung again later, this stanza may follow any stanza's last note (0, 4 or 7).
            hits += sum(shared_runs([style.tonic + semitones_of(d, style.mode)] + line[:RUN]) for d in (0, 4, 7))
        if best_hits is None or hits < best_hits:
            best, best_hits = degrees, hits
        if hits == 0:
            break
    return best


def compose(song: Song) -> Melody:
    """The song's melody: the same for the same stored song, in every process."""
    style = style_for(song.id, song.brief or brief_for(song.id))
    meter = METERS[style.meter]
    stanzas = stanzas_of(song)
    syllables = [[line_syllables(line) for line in s.lines] for s in stanzas]
    stresses = [[tuple(x.stress for x in line) for line in s] for s in syllables]
    # All lines n of one section kind share a phrase length: the longest any of them needs.
    bars: dict[tuple[str, int], int] = {}
    for s, section in enumerate(stanzas):
        for j, st in enumerate(stresses[s]):
            bars[(section.kind, j)] = max(bars.get((section.kind, j), 0), bars_for(st, meter))

    # (kind, line number) -> (words, onsets, degrees) where that tune was first sung
    templates: dict[tuple[str, int], tuple[str, list[int], list[int]]] = {}
    order = [((section.kind, j), text) for section in stanzas for j, text in enumerate(section.lines)]

    def fixed_after(position: int) -> list[int]:
        """Pitches already fixed right after line `position` (lines sung again as they were)."""
        out: list[int] = []
        for slot, text in order[position + 1:]:
            if len(out) >= RUN or slot not in templates or templates[slot][0] != text:
                break
            out.extend(style.tonic + semitones_of(d, style.mode) for d in templates[slot][2])
        return out

    notes: list[Note] = []
    context = (0, 0)
    cursor = 0  # eighths; every phrase starts on a bar line
    line_index = 0
    for s, section in enumerate(stanzas):
        for j, line in enumerate(syllables[s]):
            slot = (section.kind, j)
            placement = place(stresses[s][j], meter.name, bars[slot])
            onsets = [t for t, _ in placement]
            code = KIND_CODES.get(section.kind, 4)
            sung = [n.pitch for n in notes]
            if slot in templates and templates[slot][0] == section.lines[j]:
                degrees = list(templates[slot][2])  # the same words: the same notes
            elif slot in templates:
                _, t_onsets, t_degrees = templates[slot]
                degrees = _draw_fresh(song.id, (s + 1) << 12 | code << 8 | j + 1, len(line), context, sung,
                                      fixed_after(line_index), style, False,
                                      first_range=(LOW, HIGH), finals=(t_degrees[-1],),
                                      targets=_targets(t_onsets, t_degrees, onsets))
            else:
                last_line = j == len(section.lines) - 1
                if last_line and section.kind == "bridge":
                    finals = (4,)
                elif last_line:
                    finals = (0, 7)
                else:
                    finals = tuple(d for d in range(LOW, HIGH + 1) if d % 7 in (0, 2, 4))
                # A stanza's first note lies within an octave of any stanza's last (0, 4 or 7),
                # so that the tune may follow whatever stanza comes before it.
                first = (max(0, START_FLOOR.get(section.kind, LOW)), 7) if j == 0 else (LOW, HIGH)
                degrees = _draw_fresh(song.id, code << 8 | j + 1, len(line), context, sung,
                                      fixed_after(line_index), style, j == 0,
                                      first_range=first, finals=finals)
                templates[slot] = (section.lines[j], onsets, degrees)
            for k, (syl, (t, d), degree) in enumerate(zip(line, placement, degrees)):
                notes.append(Note(pitch=style.tonic + semitones_of(degree, style.mode), start=(cursor + t) / 2,
                                  duration=d / 2, syllable=syl.text, word=syl.word, line=line_index, stanza=s,
                                  phrase_end=k == len(line) - 1))
            context = (degrees[-2], degrees[-1]) if len(degrees) > 1 else (context[1], degrees[-1])
            cursor += (bars[slot] + 1) * meter.bar
            line_index += 1
    chords = chords_for(notes, bars=cursor // meter.bar, bar_beats=meter.bar / 2, tonic=style.tonic,
                        mode=style.mode, key_name=style.key_name)
    return Melody(version=MELODY_VERSION, title=song.title, key=style.key, mode=style.mode, tonic=style.tonic,
                  tempo=style.tempo, time_signature=(meter.numerator, meter.denominator), notes=tuple(notes),
                  chords=tuple(chords))


def warm() -> None:
    """Load now what the first `compose` would load: the melody model's tables, the
    corpus index, the pronouncing dictionary and the hyphenator (about a second and
    170,000 objects, most of them the dictionary's). A web process calls it before its
    first visitor (web/server.py), who would otherwise wait that second for a page."""
    load_model()
    corpus_set()
    load_dictionaries()
