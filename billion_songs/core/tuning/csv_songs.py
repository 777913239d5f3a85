"""Reading songs from whatever CSV a user is likely to have.

Lyrics files are hard on CSV readers: fields span many lines, they come from Excel (CRLF,
a byte-order mark) or from scrapers (stray quotes, huge fields, short rows). This reader
streams the file line by line through the standard `csv` module in strict mode and keeps
every physical line it handed the parser, so that when a record turns out to be broken it
can report the record's line and read the lines after it again instead of losing them.

Recovery from an unclosed quote (the only error that can swallow a neighbour):

* The parser fails at end of file: the quoted field never closes, so no line after it
  holds a quote. The lines after the opening line are read again, one record each;
  the ones that do not have the header's field count are taken as the rest of the
  broken lyrics and folded into the same bad-row report.
* The parser fails at line M because text follows a "closing" quote: that quote was
  really the opening quote of a later record on line M. Lines between the broken
  record and M are quote-free; they are read again as rows only when every non-blank one
  of them is a well-formed row (a file of one-line songs), otherwise they are the rest of
  the broken lyrics and belong to the bad row. Reading resumes at line M.

Either way the broken record is reported once, with its line numbers, and never glued to
the song before or after it. CSV itself cannot tell a lyric line such as "oh, baby" from a
row of a two-column file, so after an unclosed quote at end of file such a line can come
back as a (bad) song of its own; it is never merged into a neighbouring one.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from billion_songs.core.tuning.errors import PrepareError

# Column names recognised when the user names none, in order of preference. Compared
# after case-folding and turning spaces and dashes into underscores ("Song Name" matches).
LYRICS_COLUMN_NAMES = ("lyrics", "lyric", "text", "song_lyrics")
TITLE_COLUMN_NAMES = ("title", "song_title", "song_name", "song", "name", "track_name", "track")

DELIMITERS = (",", "\t", ";", "|")  # the header line decides; "," when it has none of them
_FIELD_SIZE_LIMIT = 2**31 - 1  # csv's default of 131072 characters is far too small for lyrics
_SNIFF_BYTES = 64 * 1024  # enough to see the header line and to spot a binary file


@dataclass(frozen=True)
class RawSong:
    """One well-formed row, as read (not cleaned yet)."""

    line: int  # the physical line the row starts on, 1-based (the header is usually line 1)
    title: str
    lyrics: str


@dataclass
class BadRow:
    """A malformed record: skipped, counted once, reported with its lines."""

    line: int  # first physical line of the record
    end_line: int  # last physical line attributed to it (== line for one-line records)
    reason: str

    def where(self) -> str:
        if self.end_line == self.line:
            return f"line {self.line}"
        return f"lines {self.line}-{self.end_line}"


@dataclass(frozen=True)
class Columns:
    """Which header columns hold the title and the lyrics."""

    title: str
    lyrics: str
    found: tuple[str, ...]  # the whole header, for messages


@dataclass
class CsvSongs:
    """Everything read from one CSV file."""

    songs: list[RawSong]
    bad_rows: list[BadRow]
    rows_read: int  # data records seen, good and bad (blank lines and the header excluded)
    columns: Columns
    delimiter: str
    encoding: str


# --------------------------------------------------------------------------------------
# Public entry point


def read_songs(
    path: str | Path,
    *,
    lyrics_column: str | None = None,
    title_column: str | None = None,
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> CsvSongs:
    """Read every well-formed song row of `path`; report the rest as bad rows.

    Raises PrepareError (never a csv or Unicode traceback) for a missing, empty, binary
    or wrongly-encoded file, a broken header, and missing columns."""
    path = Path(path)
    prefix = _check_file(path)
    codec = _codec_name(encoding)
    delimiter = delimiter or _sniff_delimiter(prefix, codec)
    try:
        with _large_csv_fields(), open(path, encoding=codec, newline="") as handle:
            return _read(path, _Lines(handle), delimiter, lyrics_column, title_column, codec)
    except UnicodeDecodeError as error:
        raise PrepareError(_decode_error_message(path, encoding, error)) from None
    except OSError as error:
        raise PrepareError(f"cannot read {path}: {error.strerror or error}") from None


def choose_columns(header: list[str], lyrics_column: str | None, title_column: str | None) -> Columns:
    """Pick the title and lyrics columns: the ones named (matched exactly, then ignoring case
    and spacing), else the first of the usual names. Raises PrepareError naming every
    missing column and the columns the file has."""
    found = tuple(header)
    problems = []
    lyrics = _find_column(header, lyrics_column, LYRICS_COLUMN_NAMES)
    if lyrics is None:
        problems.append(_missing("lyrics", lyrics_column, LYRICS_COLUMN_NAMES, "--lyrics-column"))
    title = _find_column(header, title_column, TITLE_COLUMN_NAMES, exclude=lyrics)
    if title is None:
        problems.append(_missing("title", title_column, TITLE_COLUMN_NAMES, "--title-column"))
    if problems:
        columns = ", ".join(repr(name) for name in found) or "(none)"
        hint = " (a single column: is this really a CSV file?)" if len(found) == 1 else ""
        raise PrepareError(f"missing {' and '.join(problems)}. The header has: {columns}{hint}")
    if title == lyrics:
        raise PrepareError(f"the title and lyrics columns must differ, both are {title!r}")
    return Columns(title=title, lyrics=lyrics, found=found)


# --------------------------------------------------------------------------------------
# Reading


def _read(path, lines, delimiter, lyrics_column, title_column, codec) -> CsvSongs:
    records = _Records(lines, delimiter)
    header_record = next((r for r in records if not r.blank), None)
    if header_record is None:
        raise PrepareError(f"{path} is empty: no header row")
    if header_record.error:
        raise PrepareError(
            f"{path}: the header ({header_record.where()}) is not valid CSV: {header_record.error}"
        )
    header = [name.strip() for name in header_record.fields]
    columns = choose_columns(header, lyrics_column, title_column)
    title_at, lyrics_at = header.index(columns.title), header.index(columns.lyrics)
    records.expected_fields = len(header)

    songs: list[RawSong] = []
    bad = _BadRows()
    rows_read = 0
    for record in records:
        if record.blank:
            bad.see_blank(record)
            continue
        fields = _fit(record.fields, len(header))
        if record.error or fields is None:
            reason = record.error or f"expected {len(header)} fields, found {len(record.fields)}"
            if bad.add(record, reason, records.broken_until):
                continue  # the rest of an already reported record
        else:
            songs.append(RawSong(record.line, fields[title_at], fields[lyrics_at]))
            bad.close()
        rows_read += 1
    return CsvSongs(
        songs=songs,
        bad_rows=bad.rows,
        rows_read=rows_read,
        columns=columns,
        delimiter=delimiter,
        encoding=codec,
    )


def _fit(fields: list[str], expected: int) -> list[str] | None:
    """The row's fields if it has the header's count; trailing empty extras (a common
    spreadsheet artefact) are dropped; any other mismatch makes it a bad row."""
    if len(fields) == expected:
        return fields
    if len(fields) > expected and not any(f.strip() for f in fields[expected:]):
        return fields[:expected]
    return None


@dataclass
class _Record:
    line: int
    end_line: int
    fields: list[str] = field(default_factory=list)
    error: str | None = None  # why the CSV syntax is broken, None when it parsed

    @property
    def blank(self) -> bool:
        """An empty or whitespace-only line (",," is a row, with empty fields)."""
        if self.error is not None:
            return False
        return not self.fields or (len(self.fields) == 1 and not self.fields[0].strip())

    def where(self) -> str:
        return f"line {self.line}" if self.line == self.end_line else f"lines {self.line}-{self.end_line}"


class _Lines:
    """The file's physical lines, numbered from 1, with push-back: the lines of a broken
    record can be handed to the parser again."""

    def __init__(self, source: Iterator[str]):
        self._source = iter(source)
        self._pushed: list[tuple[int, str]] = []  # a stack: the next line is at the end
        self._next_number = 1
        self.taken: list[tuple[int, str]] = []  # lines handed out since the last take()

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pushed:
            item = self._pushed.pop()
        else:
            item = (self._next_number, next(self._source))
            self._next_number += 1
        self.taken.append(item)
        return item[1]

    def take(self) -> list[tuple[int, str]]:
        taken, self.taken = self.taken, []
        return taken

    def push_back(self, items: list[tuple[int, str]]) -> None:
        self._pushed.extend(reversed(items))


class _Records:
    """CSV records with their physical line span; broken ones carry an `error` instead of
    fields. See the module docstring for how reading goes on after a broken record."""

    def __init__(self, lines: _Lines, delimiter: str):
        self.lines = lines
        self.delimiter = delimiter
        self.expected_fields: int | None = None  # set once the header is known
        self.broken_until = 0  # last line of the latest broken record's span
        self._iterator = self._generate()

    def __iter__(self) -> _Records:
        return self

    def __next__(self) -> _Record:
        return next(self._iterator)

    def _generate(self) -> Iterator[_Record]:
        while True:
            reader = csv.reader(self.lines, delimiter=self.delimiter, strict=True)
            try:
                for fields in reader:
                    taken = self.lines.take()
                    yield _Record(taken[0][0], taken[-1][0], fields)
                return
            except csv.Error as error:
                yield self._recover(self.lines.take(), error)

    def _recover(self, taken: list[tuple[int, str]], error: csv.Error) -> _Record:
        first, rest = taken[0][0], taken[1:]
        self.broken_until = taken[-1][0]
        if "unexpected end of data" in str(error):
            self.lines.push_back(rest)
            return _Record(first, first, error="unclosed quote: the quoted field never ends")
        reason = "unclosed or stray quote: text follows a closing quote"
        between, last = rest[:-1], rest[-1:]
        if all(self._is_row(text) for _, text in between if text.strip()):
            self.lines.push_back(rest)
            return _Record(first, first, error=reason)
        self.lines.push_back(last)
        return _Record(first, between[-1][0], error=reason)

    def _is_row(self, text: str) -> bool:
        """Whether a quote-free line on its own is a well-formed row."""
        if self.expected_fields is None:
            return False
        return _fit(text.rstrip("\r\n").split(self.delimiter), self.expected_fields) is not None


class _BadRows:
    """Collects bad rows, folding the leftover lines of a broken record into that record's
    single report: lines read again after it (within the span the parser had swallowed),
    directly following it, and bad only for their field count. A line with a quoting error
    of its own opened a quote of its own, so it starts a new report."""

    def __init__(self):
        self.rows: list[BadRow] = []
        self._open: BadRow | None = None  # the report that following bad lines may extend
        self._open_until = 0  # ...but no further than the span its parser swallowed
        self._chain_end = 0  # last line (bad or blank) that follows the open report

    def add(self, record: _Record, reason: str, broken_until: int) -> bool:
        """Record a bad record; True when it was folded into the previous report."""
        if (
            self._open
            and not record.error
            and record.line == self._chain_end + 1
            and record.line <= self._open_until
        ):
            self._open.end_line = record.end_line
            self._chain_end = record.end_line
            return True
        row = BadRow(record.line, record.end_line, reason)
        self.rows.append(row)
        self._open = row if record.error else None
        self._open_until = broken_until
        self._chain_end = record.end_line
        return False

    def see_blank(self, record: _Record) -> None:
        if self._open and record.line == self._chain_end + 1:
            self._chain_end = record.end_line

    def close(self) -> None:
        self._open = None


# --------------------------------------------------------------------------------------
# Files, encodings, columns


def _check_file(path: Path) -> bytes:
    """Fail early, with a message, on files that cannot be a CSV; return the first bytes."""
    if not path.exists():
        raise PrepareError(f"no such file: {path}")
    if not path.is_file():
        raise PrepareError(f"not a file: {path}")
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(_SNIFF_BYTES)
    except OSError as error:
        raise PrepareError(f"cannot read {path}: {error.strerror or error}") from None
    if not prefix:
        raise PrepareError(f"{path} is empty")
    if prefix.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise PrepareError(f"{path} is UTF-16 text; save it as UTF-8 CSV and try again")
    if b"\x00" in prefix:
        raise PrepareError(f"{path} looks like a binary file, not a CSV (it contains NUL bytes)")
    return prefix


def _codec_name(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise PrepareError(f"unknown encoding {encoding!r}") from None
    # "utf-8-sig" reads plain UTF-8 too and drops a byte-order mark, which Excel writes.
    return "utf-8-sig" if name == "utf-8" else name


def _sniff_delimiter(prefix: bytes, codec: str) -> str:
    text = prefix.decode(codec, errors="ignore")
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties go to the earlier, so "," first
    return best if counts[best] else ","


def _decode_error_message(path: Path, encoding: str, error: UnicodeDecodeError) -> str:
    """Name the line of the first undecodable byte: the streaming decoder reads ahead, so
    the line number comes from the raw bytes."""
    line = "?"
    with contextlib.suppress(OSError, LookupError):
        data = path.read_bytes()
        try:
            data.decode(_codec_name(encoding))
        except UnicodeDecodeError as exact:
            line = str(data.count(b"\n", 0, exact.start) + 1)
    return (
        f"{path} is not {encoding} text (undecodable byte at line {line}): "
        f"if it is a CSV saved in another encoding, pass it with --encoding (e.g. cp1252)"
    )


@contextlib.contextmanager
def _large_csv_fields():
    """Lift csv's process-wide field size limit while reading, then put it back."""
    previous = csv.field_size_limit(_FIELD_SIZE_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _normalise_name(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().casefold())


def _find_column(
    header: list[str], wanted: str | None, usual: tuple[str, ...], exclude: str | None = None
) -> str | None:
    if wanted is not None:
        if wanted in header:
            return wanted
        key = _normalise_name(wanted)
        return next((name for name in header if _normalise_name(name) == key), None)
    by_key: dict[str, str] = {}
    for name in header:
        if name != exclude:
            by_key.setdefault(_normalise_name(name), name)
    return next((by_key[key] for key in usual if key in by_key), None)


def _missing(role: str, wanted: str | None, usual: tuple[str, ...], option: str) -> str:
    if wanted is not None:
        return f"{role} column {wanted!r}"
    return f"{role} column (looked for {', '.join(usual)} in any case; name it with {option})"
