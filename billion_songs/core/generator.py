"""ModelLyricsGenerator: song ids in, songs out, on the int8 engine.

Two decoders, chosen by the model's generation settings:
- "song" (the default): the songwriting decoder (songwriting/decoder.py) writes each song
  line by line under its plan; a song that breaks the song contract
  (songwriting/checks.py) is written again with the next attempt number.
- "free": the model writes the whole song on its own (how older tuned adapters were
  served). Batches group ids whose prompts have the same token length (no padding, so a
  row's result does not depend on its neighbours); rejected songs retry too.
Either way a retry keys a fresh random stream: still a pure function of the id.
"""

from __future__ import annotations

import functools
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence

import torch

from billion_songs.core.decode import decode_batch, iter_decode
from billion_songs.core.engine.modelfile import LoadedModel, ModelLoadError
from billion_songs.core.guards import check_song
from billion_songs.core.interface import Finished, Restart, StreamEvent, TextDelta
from billion_songs.core.postprocess import clean_song
from billion_songs.core.engine.attention import KVCache
from billion_songs.core.prompts import encode, prompt_parts
from billion_songs.core.song import Song, lyrics_of, parse_song_id
from billion_songs.core.songwriting.checks import form_problems
from billion_songs.core.songwriting.decoder import Draft, LineWritten, SongWriter
from billion_songs.core.songwriting.vocabulary import Vocabulary

DEFAULT_MAX_BATCH = 32


class ModelLyricsGenerator:
    def __init__(self, loaded: LoadedModel, *, max_batch_size: int = DEFAULT_MAX_BATCH):
        self.loaded = loaded
        self.max_batch_size = max_batch_size
        self.settings = loaded.manifest.generation
        self._style = loaded.manifest.prompt_style
        self._ends = loaded.manifest.end_token_ids
        self._prefix_ids = encode(prompt_parts(0, self._style)[0], loaded.tokenizer)
        self._prefix = self._prefix_cache()
        if self.settings.decoder not in ("song", "free"):
            raise ModelLoadError(f"{loaded.path}: unknown decoder {self.settings.decoder!r} (song or free)")
        if self.songwriting and len(loaded.tokenizer.encode("\n", add_special_tokens=False).ids) != 1:
            raise ModelLoadError(f"{loaded.path}: the songwriting decoder needs a tokenizer with a single "
                                 "newline token; write with this model using --decoder free")

    def _prefix_cache(self) -> KVCache | None:
        """Keys and values of the prompt prefix shared by every song, computed once."""
        if not self._prefix_ids:
            return None
        model = self.loaded.model
        cache = model.new_cache(1, len(self._prefix_ids))
        with torch.inference_mode():
            model.forward(torch.tensor([self._prefix_ids]), cache)
        return cache

    @property
    def model_version(self) -> str:
        return self.loaded.model_version

    @property
    def songwriting(self) -> bool:
        return self.settings.decoder == "song"

    @functools.cached_property
    def _vocabulary(self) -> Vocabulary:
        return Vocabulary(self.loaded.tokenizer)

    @functools.cached_property
    def _example_ngrams(self) -> dict:
        return SongWriter.example_ngrams_of(self.loaded.tokenizer) if self._style == "chatml" else {}

    @functools.cached_property
    def _rhyme_cache(self) -> dict:
        return {}

    def _writer(self) -> SongWriter:
        return SongWriter(self.loaded.model, self.loaded.tokenizer, self._vocabulary, self._style, self.settings,
                          self._prefix, example_ngrams=self._example_ngrams, rhyme_cache=self._rhyme_cache)

    def _judge_draft(self, draft: Draft) -> tuple[str, str, str | None]:
        """(title, lyrics, rejection reason or None) for one attempt of the songwriting decoder."""
        lyrics = lyrics_of(draft.sections)
        problems = form_problems(draft.title, lyrics)
        return draft.title, lyrics, (problems[0] if problems else None)

    def _write_songs(self, ids: list[int], between_steps) -> dict[int, Song]:
        queue = deque((song_id, 0) for song_id in ids)
        rejected: dict[int, list[str]] = defaultdict(list)
        done: dict[int, Song] = {}
        # max_batch_size counts rows: each song holds `candidates` of them.
        songs_at_once = min(len(ids), max(1, -(-self.max_batch_size // self.settings.candidates)))
        take = lambda: queue.popleft() if queue else None  # noqa: E731
        for event in self._writer().write(take, songs_at_once=songs_at_once, between_steps=between_steps):
            if not isinstance(event, Draft):
                continue
            title, lyrics, reason = self._judge_draft(event)
            if reason is None or event.attempt + 1 >= self.settings.max_attempts:
                if reason is not None:
                    rejected[event.song_id].append(reason)
                done[event.song_id] = self._draft_song(event, title, lyrics, rejected[event.song_id], reason is None)
            else:
                rejected[event.song_id].append(reason)
                queue.append((event.song_id, event.attempt + 1))
        return done

    def _draft_song(self, draft: Draft, title: str, lyrics: str, rejected: list[str], ok: bool) -> Song:
        return Song(id=draft.song_id, title=title, lyrics=lyrics, model_version=self.model_version, ok=ok,
                    attempts=draft.attempt + 1, rejected=tuple(rejected), brief=draft.plan.brief,
                    sections=draft.sections)

    def _stream_song(self, song_id: int) -> Iterator[StreamEvent]:
        rejected: list[str] = []
        for attempt in range(self.settings.max_attempts):
            work = deque([(song_id, attempt)])
            take = lambda: work.popleft() if work else None  # noqa: E731
            for event in self._writer().write(take, songs_at_once=1):
                if isinstance(event, LineWritten):
                    yield TextDelta(event.text)
                    continue
                title, lyrics, reason = self._judge_draft(event)
                last = attempt + 1 >= self.settings.max_attempts
                if reason is not None:
                    rejected.append(reason)
                if reason is None or last:
                    yield Finished(self._draft_song(event, title, lyrics, rejected, reason is None))
                    return
                yield Restart(reason)

    def prompt(self, song_id: int) -> list[int]:
        """This song's part of the prompt (after the shared prefix)."""
        return encode(prompt_parts(song_id, self._style)[1], self.loaded.tokenizer)

    def _text(self, token_ids: list[int]) -> str:
        return self.loaded.tokenizer.decode(token_ids, skip_special_tokens=False)

    def _judge(self, token_ids: list[int], complete: bool) -> tuple[str, str, str | None]:
        """(title, lyrics, rejection reason or None) for one attempt's tokens."""
        title, lyrics = clean_song(self._text(token_ids), complete=complete)
        return title, lyrics, check_song(title, lyrics)

    def generate(self, ids: Sequence[int], *, between_steps: Callable[[], None] | None = None) -> list[Song]:
        ids = [parse_song_id(i) for i in ids]
        unique = list(dict.fromkeys(ids))
        if self.songwriting:
            written = self._write_songs(unique, between_steps)
            return [written[i] for i in ids]
        prompts = {song_id: self.prompt(song_id) for song_id in unique}
        rejected: dict[int, list[str]] = defaultdict(list)
        last: dict[int, tuple[str, str]] = {}
        done: dict[int, Song] = {}
        pending = unique
        for attempt in range(self.settings.max_attempts):
            by_length: dict[int, list[int]] = defaultdict(list)
            for song_id in pending:
                by_length[len(prompts[song_id])].append(song_id)
            for group in by_length.values():
                for start in range(0, len(group), self.max_batch_size):
                    batch = group[start:start + self.max_batch_size]
                    rows = decode_batch(self.loaded.model, [prompts[i] for i in batch], batch, attempt,
                                        self.settings, self._ends, between_steps, self._prefix)
                    for song_id, row in zip(batch, rows):
                        title, lyrics, reason = self._judge(row.token_ids, row.complete)
                        if reason is None:
                            done[song_id] = self._song(song_id, title, lyrics, attempt, rejected[song_id])
                        else:
                            rejected[song_id].append(reason)
                            last[song_id] = (title, lyrics)
            pending = [i for i in pending if i not in done]
            if not pending:
                break
        for song_id in pending:
            title, lyrics = last[song_id]
            done[song_id] = self._song(song_id, title, lyrics, self.settings.max_attempts - 1,
                                       rejected[song_id], ok=False)
        return [done[i] for i in ids]

    def _song(self, song_id, title, lyrics, attempt, rejected, ok=True) -> Song:
        return Song(id=song_id, title=title, lyrics=lyrics, model_version=self.model_version,
                    ok=ok, attempts=attempt + 1, rejected=tuple(rejected))

    def stream(self, song_id: int) -> Iterator[StreamEvent]:
        song_id = parse_song_id(song_id)
        if self.songwriting:
            yield from self._stream_song(song_id)
            return
        prompt = self.prompt(song_id)
        rejected: list[str] = []
        title = lyrics = ""
        for attempt in range(self.settings.max_attempts):
            tokens: list[int] = []
            complete = False
            shown = ""
            steps = iter_decode(self.loaded.model, [prompt], [song_id], attempt, self.settings, self._ends,
                                prefix=self._prefix)
            for step in steps:
                if step.finished[0]:
                    complete = True
                    break
                tokens.append(step.tokens[0])
                text = self._text(tokens)
                # Hold back a partial multi-byte character until its last token arrives.
                if not text.endswith("\ufffd") and len(text) > len(shown) and text.startswith(shown):
                    yield TextDelta(text[len(shown):])
                    shown = text
            title, lyrics, reason = self._judge(tokens, complete)
            if reason is None:
                yield Finished(self._song(song_id, title, lyrics, attempt, rejected))
                return
            rejected.append(reason)
            if attempt + 1 < self.settings.max_attempts:
                yield Restart(reason)
        yield Finished(self._song(song_id, title, lyrics, self.settings.max_attempts - 1, rejected, ok=False))


def set_threads(threads: int | None) -> None:
    """Intra-op threads for this process; results do not depend on it."""
    if threads is not None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        torch.set_num_threads(threads)
