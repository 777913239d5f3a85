"""The songwriting decoder: a song written line by line under its plan.

    plan (plan.py) ─▶ title (the hook) ─▶ for each section: its label, then its lines
                      (a chorus sung again is copied word for word, not written)
    each line: K candidate lines decoded side by side, each from its own random stream
               ─▶ constraints on every token (sung length, modern words, no phrase from
                  earlier in the song or from the prompt's example, a rhyme word nudged
                  in where the scheme asks for one) ─▶ the best candidate by model score,
                  rhyme and length ─▶ it becomes the context of every candidate row

Many songs share one batch; each song holds K rows of a RowCache and every row steps one
token at a time at its own position, so songs of any length and lines that end at
different steps share a batch without padding. A row's tokens and logits depend only on
its own song, attempt, line and candidate: the same song comes out alone, streamed, or in
any batch (the determinism contract).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from billion_songs.core import rng
from billion_songs.core.engine.attention import KVCache, RowCache
from billion_songs.core.generation_settings import GenerationSettings
from billion_songs.core.prompts import EXAMPLE_SONG, encode, prompt_parts, section_label
from billion_songs.core.sampling import choose_tokens, penalize_repeats
from billion_songs.core.song import Section
from billion_songs.core.songwriting.plan import CHORUS, SongPlan, plan_song
from billion_songs.core.songwriting.rhyme import last_word, rhymes, rhyming_parts
from billion_songs.core.songwriting.vocabulary import NO_END, Vocabulary

NGRAM = 4  # a run of this many tokens may appear once in a song (a chorus sung again is copied)
DANGLING_EXTRA = 2  # words a line may run past its longest when it would end on "the", "your"...
MAX_LINE_TOKENS = 20  # a line that has not ended by then is ended (12 words take about 15)
TITLE_MAX_EXTRA = 1  # a title may run this many words past its planned length
_WORDS = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
# Candidate scores: the model's mean log-probability of its own tokens, plus these.
RHYME_BONUS = 2.0  # the line rhymes where the scheme asks for a rhyme
RHYMABLE_BONUS = 0.5  # the first line of a rhyme pair ends on a word with rhyming partners
LENGTH_PENALTY = 0.15  # per word away from the planned length
REPEAT_PENALTY = 6.0  # the line (or title) says what an earlier line said
CUT_PENALTY = 3.0  # the line was ended by the token limit, not by the model
END_WEIGHT = 0.25  # times the log-probability of the line's last word: a forced-sounding end loses
RHYME_FLOOR = -9.0  # log-probability below which a rhyme word is not nudged in
UNKNOWN_WORD_PENALTY = 1.5  # per word the CMU dictionary does not know
REUSE_PENALTY = 0.4  # per word pair the line shares with the song's earlier lines: say something new
MIN_PARTNERS = 8  # single-token words rhyming with it: an end word the next line can rhyme with ("night", not "orange")


@dataclass
class Draft:
    """One attempt at one song, written to the end of its plan."""

    song_id: int
    attempt: int
    plan: SongPlan
    title: str
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class LineWritten:
    """Text for a reader: the title or a line as soon as it is chosen, a chorus when it is
    sung again (stanza breaks included)."""

    song_id: int
    attempt: int
    text: str


@dataclass
class _Candidate:
    row: int
    key: np.ndarray  # uint64 [1]
    tokens: list[int] = field(default_factory=list)  # sampled, end of line excluded
    text: str = ""  # the line so far (after the hook)
    logprob: float = 0.0
    last_logprob: float = 0.0  # of the last sampled token: how natural the line's end word is
    pending: int | None = None  # sampled, to be fed at the next step
    done: bool = False
    cut: bool = False  # ended by the token limit
    rhymed: bool = False  # just wrote a rhyme word: no new word may follow (the line may end)


@dataclass
class _Slot:
    """The title, or one line to write: section index, line index."""

    section: int  # -1: the title
    line: int = 0


class _SongJob:
    """One attempt of one song, holding K rows of the batch."""

    def __init__(self, song_id: int, attempt: int, rows: list[int], writer: "SongWriter"):
        self.song_id, self.attempt, self.rows, self.writer = song_id, attempt, rows, writer
        self.plan = plan_song(song_id)
        self.forced: deque[int] = deque()  # text the model reads before it writes again
        self.forced_from: int | None = None  # the position where the first row began reading it
        self.slots = deque([_Slot(-1)] + [_Slot(s, i) for s, section in enumerate(self.plan.sections)
                                          if section.sings is None for i in range(len(section.lines))])
        self.slot: _Slot = self.slots.popleft()
        self.hook: list[int] = []  # forced tokens that open the current line (the title, in the chorus)
        self.title_text = ""  # the title as the model wrote it
        self.lines: dict[int, list[str]] = {}  # section -> its lines so far
        self.history: list[int] = []  # every token of the song so far, for n-gram blocking
        self.ngrams: dict[tuple[int, ...], set[int]] = {k: set(v) for k, v in writer.example_ngrams.items()}
        self.candidates: list[_Candidate] = []
        self.line_start = 0
        self.sections_sung = 0  # sections whose text is complete (written or copied)
        self.done = False  # every section is written or copied

    # -- the plan, slot by slot ------------------------------------------------------
    def _limits(self) -> tuple[int, int, int]:
        """(min words, planned words, max words) of the current slot."""
        if self.slot.section < 0:
            words = self.plan.title_words
            return 1, words, words + TITLE_MAX_EXTRA
        line = self.plan.sections[self.slot.section].lines[self.slot.line]
        return line.min_words, line.words, line.max_words

    def _partner(self) -> str | None:
        """The end word this line must rhyme with (None: a free line or the first of its rhyme)."""
        if self.slot.section < 0:
            return None
        section = self.plan.sections[self.slot.section]
        letter = section.scheme[self.slot.line]
        if letter == "X":
            return None
        for earlier in range(self.slot.line - 1, -1, -1):
            if section.scheme[earlier] == letter:
                return last_word(self.lines[self.slot.section][earlier])
        return None

    def _opens_rhyme(self) -> bool:
        if self.slot.section < 0:
            return False
        scheme = self.plan.sections[self.slot.section].scheme
        letter = scheme[self.slot.line]
        return letter != "X" and scheme.index(letter) == self.slot.line

    def begin_slot(self) -> None:
        """Queue the text that comes before the current slot's words (labels, stanza
        breaks, choruses sung again) and the hook."""
        self.hook = []
        if self.slot.section < 0:
            return
        style = self.writer.style
        text = "\n"
        if self.slot.line == 0:
            for index in range(self.sections_sung, self.slot.section):  # choruses sung again before it
                self._sing_again(index)
            section = self.plan.sections[self.slot.section]
            text = "\n\n" + section_label(section.label, style)
            self.lines[self.slot.section] = []
            self.sections_sung = self.slot.section + 1
        self.forced.extend(self.writer.encode(text))
        if self.plan.sections[self.slot.section].kind == CHORUS and self.slot.line == 0:
            # The hook: the chorus opens with the title, so the title is sung in every chorus.
            self.hook = self.writer.encode(self.title_text[0].upper() + self.title_text[1:])
            self.forced.extend(self.hook)

    def _sing_again(self, index: int) -> None:
        """A chorus sung again: shown to the reader, not read again by the model (its
        context holds the chorus once), which saves the steps and the cache positions."""
        section = self.plan.sections[index]
        self.writer.emit(self, "\n" + "\n".join(self.lines[section.sings]) + "\n")

    def finish_line(self) -> None:
        """Keep the best candidate: its line becomes every row's context."""
        best = max(self.candidates, key=self._score)  # max keeps the first of equal scores
        writer = self.writer
        end = self.line_start + len(best.tokens)
        writer.cache.copy_span(best.row, [c.row for c in self.candidates if c.row != best.row], self.line_start, end)
        writer.cache.row_positions[self.rows] = end
        tokens = self.hook + best.tokens
        self._remember(tokens)
        text = _tidy(writer.decode(tokens))
        if self.slot.section < 0:
            self.title_text = text
            writer.emit(self, title_case(text) + "\n")
        else:
            self.lines[self.slot.section].append(text)
            writer.emit(self, ("\n" if self.slot.line == 0 else "") + text + "\n")
        self.candidates = []
        if self.slots:
            self.slot = self.slots.popleft()
            self.begin_slot()
        else:
            for index in range(self.sections_sung, len(self.plan.sections)):  # the last choruses
                self._sing_again(index)
            self.sections_sung = len(self.plan.sections)
            self.forced.clear()  # nothing is written after the last line: no need to read it
            self.done = True

    def share_forced(self, cache: RowCache) -> None:
        """The text the first row read (the forced tokens) becomes the other rows' too."""
        lead, end = self.rows[0], int(cache.row_positions[self.rows[0]])
        cache.copy_span(lead, self.rows[1:], self.forced_from, end)
        cache.row_positions[self.rows] = end
        self.forced_from = None

    def _remember(self, tokens: list[int]) -> None:
        for token in tokens:
            self.history.append(token)
            if len(self.history) >= NGRAM:
                self.ngrams.setdefault(tuple(self.history[-NGRAM:-1]), set()).add(self.history[-1])

    def draft(self) -> Draft:
        sections = []
        for index, section in enumerate(self.plan.sections):
            source = index if section.sings is None else section.sings
            sections.append(Section(section.kind, tuple(self.lines.get(source, ()))))
        return Draft(self.song_id, self.attempt, self.plan, title_case(self.title_text), tuple(sections))

    # -- candidates --------------------------------------------------------------------
    def start_candidates(self, row_logits: Callable[[int], tuple[torch.Tensor, float]]) -> None:
        """Start the current slot's candidates; row_logits(row) gives the logits after the
        text read so far (the same for every row of the song) and their log-normalizer."""
        slot_index = -1 if self.slot.section < 0 else 1 + sum(
            len(s.lines) for s in self.plan.sections[:self.slot.section]) + self.slot.line
        keys = rng.line_keys(self.song_id, self.attempt, slot_index + 1, len(self.rows))
        self.line_start = int(self.writer.cache.row_positions[self.rows[0]])
        self.candidates = [_Candidate(row=row, key=keys[i:i + 1]) for i, row in enumerate(self.rows)]
        hook_text = self.writer.decode(self.hook) if self.hook else ""
        for candidate in self.candidates:
            candidate.text = hook_text
            self.sample(candidate, *row_logits(candidate.row))

    def sample(self, c: _Candidate, logits: torch.Tensor, normalizer: float) -> None:
        """Choose candidate c's next token from its row's logits (and the log of their
        softmax denominator), under the constraints."""
        vocab, settings = self.writer.vocab, self.writer.settings
        title = self.slot.section < 0
        low, _, high = self._limits()
        words = _WORDS.findall(c.text)
        n = len(words)
        if len(c.tokens) >= MAX_LINE_TOKENS:
            c.cut = True
            return self._end(c, logits, normalizer)
        allowed = (vocab.title_ok if title else vocab.line_ok).clone()
        if not c.text.strip():
            allowed &= vocab.first_ok
        elif self.hook and not c.tokens:
            allowed &= vocab.starts_word | vocab.punctuation  # the hook's last word stays whole
        dangling = bool(words) and words[-1].lower() in NO_END
        if c.rhymed or n >= high + (DANGLING_EXTRA if dangling else 0):
            allowed &= ~vocab.starts_word  # no new word: finish this one, or end the line
        context = tuple((self.history + self.hook + c.tokens)[-(NGRAM - 1):])
        blocked = self.ngrams.get(context)
        if blocked:
            allowed[list(blocked)] = False
        can_end = n >= low and not dangling
        if title and n >= high and can_end:
            return self._end(c, logits, normalizer)
        partner = self._partner()
        if can_end and n < high and words:
            # Where the scheme asks for a rhyme the line goes on until it ends on one (or
            # runs out of words); the first line of a rhyme ends on a word that has partners.
            end = words[-1].lower()
            if partner:
                can_end = rhymes(end, partner)
            elif self._opens_rhyme():
                can_end = self.writer.rhymability(end) >= MIN_PARTNERS
        allowed[vocab.newline] = can_end
        if not bool(allowed.any()):
            c.cut = True
            return self._end(c, logits, normalizer)
        row = logits.unsqueeze(0)
        recent = torch.tensor([(self.history + c.tokens)[-settings.repetition_window:]], dtype=torch.int64)
        if settings.repetition_window and recent.numel():
            row = penalize_repeats(row, recent, settings.repetition_penalty)
        row = row.masked_fill(~allowed, float("-inf"))
        rhyme_ids = None
        if partner and n >= low - 1:
            rhyme_ids = self.writer.rhyme_tokens(partner)
            if len(rhyme_ids):
                # Nudge only the rhyme words the model itself finds plausible here: a rhyme
                # the sentence cannot carry ("...city of yours shone") is worse than none.
                plausible = logits[rhyme_ids].double() - normalizer > RHYME_FLOOR
                rhyme_ids = rhyme_ids[plausible]
                row[0, rhyme_ids] += settings.rhyme_bias
        token = int(choose_tokens(row, c.key, len(c.tokens), self.writer.sampling)[0])
        c.last_logprob = float(logits[token]) - normalizer
        c.logprob += c.last_logprob
        if token == vocab.newline:
            c.done = True
            return
        c.tokens.append(token)
        c.text += vocab.texts[token]
        c.pending = token
        c.rhymed = rhyme_ids is not None and bool((rhyme_ids == token).any()) and n + 1 >= low

    def _end(self, c: _Candidate, logits: torch.Tensor, normalizer: float) -> None:
        c.logprob += float(logits[self.writer.vocab.newline]) - normalizer
        c.done = True

    def _score(self, c: _Candidate) -> float:
        low, planned, _ = self._limits()
        text = _tidy(c.text)
        n = len(_WORDS.findall(text))
        score = c.logprob / (len(c.tokens) + 1) - LENGTH_PENALTY * abs(n - planned)
        score += END_WEIGHT * c.last_logprob
        if c.cut:
            score -= CUT_PENALTY
        # Words no dictionary knows ("Whispeaked") are a small model's slips, not song words.
        score -= UNKNOWN_WORD_PENALTY * sum(not rhyming_parts(word) for word in _WORDS.findall(text))
        if n < low:
            score -= REPEAT_PENALTY
        if _stutters(text):
            score -= REPEAT_PENALTY
        said = [self.title_text.lower()] if self.slot.section >= 0 and not self.hook else []
        earlier = [line.lower() for lines in self.lines.values() for line in lines]
        if text.lower() in said + earlier:
            score -= REPEAT_PENALTY
        # Lines that keep saying "in the night" make a song of stock phrases: each word
        # pair the song has already used costs a little (a chorus sung again is not rewritten).
        score -= REUSE_PENALTY * len(word_pairs(text) & {pair for line in earlier for pair in word_pairs(line)})
        end = last_word(text)
        partner = self._partner()
        if partner and end and rhymes(end, partner):
            score += RHYME_BONUS
        elif self._opens_rhyme() and end and self.writer.rhymability(end) >= MIN_PARTNERS:
            score += RHYMABLE_BONUS
        return score


class SongWriter:
    """Writes songs under their plans on one model. One writer per call of `write`: it holds
    that call's batch. What does not change between calls (the vocabulary, the example's
    n-grams, the rhyme index) is passed in, shared."""

    # The text between lines (line breaks, labels, the hook) is read by one row of a song
    # and copied to its other rows. False: every row reads it itself, the plain form of
    # the same computation, which the tests compare against.
    share_reading = True

    def __init__(self, model, tokenizer, vocab: Vocabulary, style: str, settings: GenerationSettings,
                 prefix: KVCache | None, *, example_ngrams: dict | None = None,
                 rhyme_cache: dict[str, torch.Tensor] | None = None):
        self.model, self.tokenizer, self.vocab, self.style, self.settings = model, tokenizer, vocab, style, settings
        self.sampling = replace(settings, temperature=settings.line_temperature, top_p=settings.line_top_p)
        self.prefix = prefix
        self.prefix_length = prefix.length if prefix is not None else 0
        if example_ngrams is None:
            example_ngrams = self.example_ngrams_of(tokenizer) if style == "chatml" else {}
        self.example_ngrams = example_ngrams
        self._rhyme_cache = {} if rhyme_cache is None else rhyme_cache
        self.cache: RowCache | None = None
        self._events: list[LineWritten] = []

    def encode(self, text: str) -> list[int]:
        return encode(text, self.tokenizer)

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=False)

    def rhyme_tokens(self, word: str) -> torch.Tensor:
        if word not in self._rhyme_cache:
            self._rhyme_cache[word] = self.vocab.rhyme_tokens(word)
        return self._rhyme_cache[word]

    def rhymability(self, word: str) -> int:
        return len(self.rhyme_tokens(word))

    def emit(self, job: _SongJob, text: str) -> None:
        self._events.append(LineWritten(job.song_id, job.attempt, text))

    @staticmethod
    def example_ngrams_of(tokenizer) -> dict[tuple[int, ...], set[int]]:
        """The prompt's example song, as runs no song may repeat (it is there to show the
        form, not to be copied)."""
        grams: dict[tuple[int, ...], set[int]] = {}
        for line in EXAMPLE_SONG.split("\n"):
            for variant in (line, " " + line):
                tokens = encode(variant, tokenizer)
                for i in range(len(tokens) - NGRAM + 1):
                    grams.setdefault(tuple(tokens[i:i + NGRAM - 1]), set()).add(tokens[i + NGRAM - 1])
        return grams

    def _new_cache(self, rows: int) -> RowCache:
        length = self.prefix_length + self.settings.song_tokens
        if self.prefix is not None:
            return RowCache.from_prefix(self.prefix, rows, length)
        config = self.model.new_cache(1, 1)  # shapes only
        layers, (_, kv_heads, _, head_dim) = len(config.k), config.k[0].shape
        return RowCache(layers, rows, kv_heads, length, head_dim)

    def _read_prompt(self, job: _SongJob) -> None:
        """Read the song's own prompt in one forward pass of one row (on top of the shared
        prefix), copy its keys and values into the song's rows, and sample the first
        tokens of the title. Every path (alone, batched, streamed) starts a song this
        way, so its bits do not depend on the path; reading the prompt at once, not a
        token a step, is what shows the title within a second."""
        prompt = self.encode(prompt_parts(job.song_id, self.style)[1])
        start, end = self.prefix_length, self.prefix_length + len(prompt)
        if self.prefix is not None:
            reader = KVCache.from_prefix(self.prefix, 1, end)
        else:
            reader = self.model.new_cache(1, end)
        logits = self.model.forward(torch.tensor([prompt], dtype=torch.int64), reader)
        rows = torch.tensor(job.rows)
        for layer in range(len(reader.k)):
            self.cache.k[layer][rows, :, start:end] = reader.k[layer][0, :, start:end]
            self.cache.v[layer][rows, :, start:end] = reader.v[layer][0, :, start:end]
        self.cache.row_positions[rows] = end
        normalizer = _LogNormalizers(logits)[0]
        job.start_candidates(lambda row: (logits[0], normalizer))

    def _shrink(self, jobs: list[_SongJob]) -> list[list[int]]:
        """Keep only the rows of the songs being written (renumbered); no row is free
        after it. Rows are independent, so this changes no song."""
        keep = [row for job in jobs for row in job.rows]
        self.cache.keep_rows(torch.tensor(keep, dtype=torch.int64))
        new_index = {old: new for new, old in enumerate(keep)}
        for job in jobs:
            job.rows = [new_index[row] for row in job.rows]
            for c in job.candidates:
                c.row = new_index[c.row]
        return []

    def write(self, take: Callable[[], tuple[int, int] | None], *, songs_at_once: int,
              between_steps: Callable[[], None] | None = None) -> Iterator[LineWritten | Draft]:
        """Write the (song id, attempt) pairs that `take` hands out, `songs_at_once` at a
        time (a new one starts as soon as rows are free; `take` returns None when it has
        nothing now, and is asked again after the next song finishes, so retries queued
        meanwhile are written too). Yields each line as it is chosen and each Draft."""
        k = self.settings.candidates
        self.cache = cache = self._new_cache(songs_at_once * k)
        free = [list(range(i * k, (i + 1) * k)) for i in range(songs_at_once)]
        jobs: list[_SongJob] = []
        with torch.inference_mode():
            while True:
                while free:
                    item = take()
                    if item is None:
                        if jobs and len(free) * k * 2 >= cache.k[0].shape[0]:
                            free = self._shrink(jobs)  # the last songs: stop computing idle rows
                        break
                    song_id, attempt = item
                    rows = free.pop(0)
                    job = _SongJob(song_id, attempt, rows, self)
                    jobs.append(job)
                    self._read_prompt(job)
                if not jobs:
                    return
                tokens = torch.full((cache.k[0].shape[0], 1), self.vocab.newline, dtype=torch.int64)
                cache.stepping[:] = False
                for job in jobs:
                    if job.forced and not self.share_reading:
                        tokens[job.rows, 0] = job.forced[0]
                        cache.stepping[job.rows] = True
                    elif job.forced:
                        # Every row of the song holds the same context here and reads the
                        # same text: the first row reads it, and its keys and values are
                        # copied to the others when it is read (the same bits, 1/K the work).
                        lead = job.rows[0]
                        if job.forced_from is None:
                            job.forced_from = int(cache.row_positions[lead])
                        tokens[lead, 0] = job.forced[0]
                        cache.stepping[lead] = True
                    else:
                        for c in job.candidates:
                            if not c.done:
                                tokens[c.row, 0] = c.pending
                                cache.stepping[c.row] = True
                logits = self.model.forward(tokens, cache)
                normalizers = _LogNormalizers(logits)
                for job in list(jobs):
                    if job.forced:
                        job.forced.popleft()
                        if not job.forced:
                            # The text before the next line is read: write the line.
                            lead = job.rows[0]
                            if self.share_reading:
                                job.share_forced(cache)
                            job.start_candidates(lambda row: (logits[lead], normalizers[lead]))
                    else:
                        for c in job.candidates:
                            if not c.done:
                                job.sample(c, logits[c.row], normalizers[c.row])
                        if all(c.done for c in job.candidates):
                            job.finish_line()  # queues the text before the next line, or ends the song
                    # A song that reached its token budget ends here (judged as it is).
                    over = int(cache.row_positions[job.rows].max()) >= cache.max_len - 1
                    yield from self._events
                    self._events.clear()
                    if job.done or over:
                        jobs.remove(job)
                        cache.row_positions[job.rows] = self.prefix_length
                        free.append(job.rows)
                        yield job.draft()
                if between_steps is not None:
                    between_steps()


class _LogNormalizers:
    """The log of a row's softmax denominator, computed for the rows that sample this step
    only. In numpy, row by row: its sums are pairwise in a fixed order whatever the batch
    or the thread count, where a torch reduction may split a long row between threads."""

    def __init__(self, logits: torch.Tensor):
        self.logits, self.known = logits, {}

    def __getitem__(self, row: int) -> float:
        if row not in self.known:
            values = self.logits[row].double().numpy()
            peak = values.max()
            self.known[row] = float(peak + np.log(np.exp(values - peak).sum()))
        return self.known[row]


def word_pairs(text: str) -> set[tuple[str, str]]:
    """The line's adjacent word pairs, lower-cased."""
    words = [word.lower() for word in _WORDS.findall(text)]
    return set(zip(words, words[1:]))


def _stutters(text: str) -> bool:
    """A word said twice running, or two words said twice in one line ("broken radio,
    broken radio"): a small model's loop, not a line."""
    said = [w.lower() for w in _WORDS.findall(text)]
    pairs = list(zip(said, said[1:]))
    return any(a == b for a, b in pairs) or len(set(pairs)) < len(pairs)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\bi\b", "I", text)  # "am i still here" -> "am I still here"
    return text[:1].upper() + text[1:]


_SMALL = frozenset("a an the and or but of to in on at for by with from as".split())


def title_case(text: str) -> str:
    """ "paper boat on the water" -> "Paper Boat on the Water" (small words stay small)."""
    words = _tidy(text).rstrip(",.!?").split()
    return " ".join(w if (i and w.lower() in _SMALL) else w[:1].upper() + w[1:] for i, w in enumerate(words))
