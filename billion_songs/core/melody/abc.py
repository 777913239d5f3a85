"""ABC notation of a melody: one line of music per lyric line, the chord symbol of each
bar above it, and the line's syllables under its notes in a w: line ("ri-ver" sings two
notes, a space starts a new word). Renderers such as abcjs draw it as sheet music."""

from __future__ import annotations

from billion_songs.core.melody.melody import Melody, Note
from billion_songs.core.melody.model import degree_of

LETTERS = "CDEFGAB"
NATURAL = (0, 2, 4, 5, 7, 9, 11)
REST_PIECES = (8, 6, 4, 3, 2, 1)  # eighths, largest first


def _length(eighths: int) -> str:
    return "" if eighths == 1 else str(eighths)


def spell(pitch: int, melody: Melody) -> str:
    """The note's letter and octave marks; its accidental is the key signature's (every
    melody note is in the scale)."""
    step = degree_of(pitch - melody.tonic, melody.mode)[0] % 7
    letter = (LETTERS.index(melody.key[0]) + step) % 7
    shift = (pitch % 12 - NATURAL[letter] + 6) % 12 - 6
    octave = (pitch - shift) // 12 - 1
    name = LETTERS[letter]
    if octave >= 5:
        return name.lower() + "'" * (octave - 5)
    return name + "," * (4 - octave)


def _rests(eighths: int) -> list[str]:
    out = []
    for piece in REST_PIECES:
        while eighths >= piece:
            out.append("z" + _length(piece))
            eighths -= piece
    return out


def _lyric(notes: list[Note]) -> str:
    words: list[list[str]] = []
    previous = None
    for note in notes:
        text = note.syllable.replace("-", "\\-")
        if previous is None or note.word != previous.word:
            words.append([text])
        else:
            words[-1].append(text)
        previous = note
    return " ".join("-".join(parts) for parts in words)


def to_abc(melody: Melody, title: str) -> str:
    numerator, denominator = melody.time_signature
    bar = numerator * 8 // denominator  # eighths in a bar
    chords = {round(c.start * 2) // bar: c.symbol for c in melody.chords}
    lines: dict[int, list[Note]] = {}
    for note in melody.notes:
        lines.setdefault(note.line, []).append(note)
    out = ["X:1", f"T:{' '.join(title.split()) or 'Untitled'}", f"M:{numerator}/{denominator}", "L:1/8",
           f"Q:1/4={melody.tempo}", f"K:{melody.key_name}"]
    first_bar = 0
    for index in sorted(lines):
        notes = lines[index]
        last_bar = round(notes[-1].start * 2) // bar
        music = []
        cursor = first_bar * bar
        for b in range(first_bar, last_bar + 1):
            bar_end = (b + 1) * bar
            tokens = [f'"{chords[b]}"'] if b in chords else []
            for note in notes:
                start = round(note.start * 2)
                if not cursor <= start < bar_end:
                    continue
                tokens.extend(_rests(start - cursor))
                length = round(note.duration * 2)
                tokens.append(spell(note.pitch, melody) + _length(length))
                cursor = start + length
            tokens.extend(_rests(bar_end - cursor))
            cursor = bar_end
            music.append(" ".join(tokens))
        out.append(" | ".join(music) + (" |]" if index == max(lines) else " |"))
        out.append("w: " + _lyric(notes))
        first_bar = last_bar + 1
    return "\n".join(out) + "\n"
