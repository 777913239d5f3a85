"""The prepare pipeline end to end: a CSV written here, the real GPT-2 tokenizer, the files
`train` reads."""

import csv
import hashlib
import io

import pytest

from billion_songs.core.lyrics_format import END_OF_TEXT, START_OF_TITLE
from billion_songs.core.tuning import dataset
from billion_songs.core.tuning.cleaning import CleanSong
from billion_songs.core.tuning.errors import PrepareError
from billion_songs.core.tuning.prepare import PrepareConfig, prepare_dataset, split_songs

SMALL = PrepareConfig(block_size=64, val_fraction=0.2)


def made_up_songs(n):
    """n distinct songs of a few short lines each (invented words, nothing copied)."""
    return [
        (f"Song number {i}", "\n".join(f"verse {i} line {j}, la la la" for j in range(1 + i % 4)))
        for i in range(n)
    ]


def csv_text(rows, header=("artist", "title", "lyrics")):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.fixture
def songs_csv(write_csv):
    return write_csv(csv_text([("Ann", title, lyrics) for title, lyrics in made_up_songs(20)]))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """One dataset prepared from 20 songs, for the tests that only read it."""
    root = tmp_path_factory.mktemp("prepared")
    path = root / "songs.csv"
    path.write_text(
        csv_text([("Ann", title, lyrics) for title, lyrics in made_up_songs(20)]), encoding="utf-8"
    )
    summary = prepare_dataset(path, root / "out", SMALL)
    return path, root / "out", summary


def decoded_songs(directory, gpt2):
    """Every song written, as "TITLE\nLYRICS" text, train and val separately: the ids between
    each <|startoftitle|> and <|endoftext|> marker id, decoded."""
    loaded = dataset.load_prepared(directory)
    result = {}
    for name, split in (("train", loaded.train), ("val", loaded.val)):
        songs, current = [], None
        for token in split.tokens.tolist():
            if token == gpt2.start_of_title_id:
                assert current is None, "a song started inside another"
                current = []
            elif token == gpt2.end_of_text_id:
                songs.append(gpt2.decode(current))
                current = None
            else:
                current.append(token)
        assert current is None, "the last song never ended"
        result[name] = songs
    return result


def test_writes_every_song_once_in_the_lyrics_format(prepared, gpt2):
    _, out, summary = prepared
    written = decoded_songs(out, gpt2)
    expected = sorted(f"{title}\n{lyrics}" for title, lyrics in made_up_songs(20))
    assert sorted(written["train"] + written["val"]) == expected
    assert (summary.train.songs, summary.val.songs) == (16, 4)
    assert summary.songs_kept == 20 and summary.rows_read == 20


def test_chunks_hold_whole_songs_within_the_budget(prepared, gpt2):
    loaded = dataset.load_prepared(prepared[1])
    for chunk in list(loaded.train) + list(loaded.val):
        ids = chunk.tolist()
        assert 0 < len(ids) <= 64
        assert ids[0] == gpt2.start_of_title_id and ids[-1] == gpt2.end_of_text_id
        assert ids.count(gpt2.start_of_title_id) == ids.count(gpt2.end_of_text_id)
    assert len(loaded.train) < 16  # songs were bundled, not one per chunk


def test_meta_describes_the_dataset(prepared):
    source, out, summary = prepared
    meta = dataset.load_prepared(out).meta
    assert meta["source"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert meta["source"]["file"] == "songs.csv"
    assert meta["tokenizer"]["source"] == "gpt2" and meta["tokenizer"]["vocab_size"] == 50258
    assert meta["special_token_ids"] == {START_OF_TITLE: 50257, END_OF_TEXT: 50256}
    assert meta["block_size"] == 64 and meta["token_dtype"] == "uint16"
    assert meta["csv"]["title_column"] == "title" and meta["csv"]["lyrics_column"] == "lyrics"
    assert meta["splits"]["train"] == {
        "songs": summary.train.songs,
        "tokens": summary.train.tokens,
        "chunks": summary.train.chunks,
    }
    assert meta["config"]["seed"] == 1337
    assert (out / "tokenizer" / "tokenizer.json").is_file()


def test_same_seed_same_bytes_other_seed_other_split(songs_csv, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        prepare_dataset(songs_csv, tmp_path / name, PrepareConfig(block_size=64, val_fraction=0.2, seed=seed))
    files = ("train.tokens.npy", "train.offsets.npy", "val.tokens.npy", "meta.json")
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert (tmp_path / "a" / "val.tokens.npy").read_bytes() != (
        tmp_path / "c" / "val.tokens.npy"
    ).read_bytes()


def test_split_does_not_depend_on_row_order():
    songs = [CleanSong(i, title, lyrics) for i, (title, lyrics) in enumerate(made_up_songs(30))]
    train, val = split_songs(songs, 0.1, seed=5)
    train_reversed, val_reversed = split_songs(songs[::-1], 0.1, seed=5)
    assert len(val) == 3 and val == val_reversed and train == train_reversed


def test_split_edge_cases():
    songs = [CleanSong(i, title, lyrics) for i, (title, lyrics) in enumerate(made_up_songs(3))]
    assert [len(part) for part in split_songs(songs, 0.0, 1)] == [3, 0]
    assert [len(part) for part in split_songs(songs, 0.01, 1)] == [2, 1]  # at least one held out
    assert [len(part) for part in split_songs(songs[:1], 0.5, 1)] == [1, 0]  # never all of them


def test_cleaning_counts_and_bad_rows_reach_the_summary_and_meta(write_csv, tmp_path):
    path = write_csv(
        "artist,title,lyrics\n"
        'Ann,One,"first   \n\n\n\nsecond\n"\n'  # lines 2-7, cleaned to "first\n\nsecond"
        "Ann,Empty,\n"  # 8
        "Ann,,untitled words\n"  # 9
        'Ann,One again,"first\n\nsecond"\n'  # 10-12: duplicate once cleaned
        "Ann,Short\n"  # 13: too few fields
        "Ann,Two,other words\n"  # 14
    )
    summary = prepare_dataset(path, tmp_path / "out", SMALL)
    assert summary.rows_read == 6
    assert summary.songs_kept == 2
    assert summary.skipped == {"empty lyrics": 1, "no title": 1, "duplicate": 1}
    assert [(b.line, b.reason) for b in summary.bad_rows] == [(13, "expected 3 fields, found 2")]
    meta = dataset.load_prepared(tmp_path / "out").meta
    assert meta["counts"]["bad_rows"] == 1 and meta["bad_rows"][0]["line"] == 13
    assert meta["counts"]["skipped"] == summary.skipped


def test_special_token_text_in_lyrics_is_written_as_text(write_csv, tmp_path, gpt2):
    path = write_csv(f'title,lyrics\nTricky,"say {END_OF_TEXT} then {START_OF_TITLE}"\nPlain,la\n')
    prepare_dataset(path, tmp_path / "out", PrepareConfig(val_fraction=0))
    tokens = dataset.load_prepared(tmp_path / "out").train.tokens.tolist()
    assert tokens.count(gpt2.start_of_title_id) == 2 and tokens.count(gpt2.end_of_text_id) == 2
    assert (
        f"Tricky\nsay {END_OF_TEXT} then {START_OF_TITLE}" in decoded_songs(tmp_path / "out", gpt2)["train"]
    )


def test_long_songs_are_split_and_counted(write_csv, tmp_path, gpt2):
    long_lyrics = "\n".join(f"a long song keeps going, line {i}" for i in range(40))
    path = write_csv(csv_text([("Ann", "Long", long_lyrics), ("Bob", "Short", "short one")]))
    summary = prepare_dataset(path, tmp_path / "out", PrepareConfig(block_size=32, val_fraction=0))
    assert summary.long_split == 1 and "too long" not in summary.skipped
    assert sorted(decoded_songs(tmp_path / "out", gpt2)["train"]) == [
        "Long\n" + long_lyrics,
        "Short\nshort one",
    ]


def test_long_songs_can_be_skipped_and_counted(write_csv, tmp_path, gpt2):
    long_lyrics = "\n".join(f"a long song keeps going, line {i}" for i in range(40))
    path = write_csv(csv_text([("Ann", "Long", long_lyrics), ("Bob", "Short", "short one")]))
    summary = prepare_dataset(
        path, tmp_path / "out", PrepareConfig(block_size=32, val_fraction=0, long_songs="skip")
    )
    assert summary.skipped == {"too long": 1} and summary.songs_kept == 1
    assert decoded_songs(tmp_path / "out", gpt2)["train"] == ["Short\nshort one"]


def test_a_single_song_goes_to_train_with_a_warning(write_csv, tmp_path):
    summary = prepare_dataset(write_csv("title,lyrics\nOnly,one\n"), tmp_path / "out", SMALL)
    assert (summary.train.songs, summary.val.songs) == (1, 0)
    assert summary.warnings == ["no validation songs: too few songs to hold any out"]


def test_nothing_left_to_write_is_an_error_and_writes_nothing(write_csv, tmp_path):
    path = write_csv("title,lyrics\nA,\nB,  \n")
    with pytest.raises(PrepareError, match="no songs to write.*2 empty lyrics"):
        prepare_dataset(path, tmp_path / "out", SMALL)
    assert not (tmp_path / "out").exists()


def test_a_crash_while_writing_leaves_no_dataset(songs_csv, tmp_path, monkeypatch):
    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dataset, "write_meta", crash)
    with pytest.raises(OSError):
        prepare_dataset(songs_csv, tmp_path / "out", SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["songs.csv"]


def test_rerun_replaces_the_earlier_dataset(songs_csv, tmp_path):
    first = prepare_dataset(songs_csv, tmp_path / "out", SMALL)
    second = prepare_dataset(songs_csv, tmp_path / "out", PrepareConfig(block_size=128, val_fraction=0.2))
    assert (first.replaced, second.replaced) == (False, True)
    assert dataset.load_prepared(tmp_path / "out").meta["block_size"] == 128


def test_refuses_to_write_into_an_unrelated_directory_before_reading(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(PrepareError, match="not a prepared dataset"):
        prepare_dataset(tmp_path / "does-not-matter.csv", tmp_path / "out", SMALL)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (PrepareConfig(block_size=4), "block size"),
        (PrepareConfig(val_fraction=1.0), "validation fraction"),
        (PrepareConfig(long_songs="truncate"), "long songs"),
    ],
)
def test_bad_config(songs_csv, tmp_path, config, message):
    with pytest.raises(PrepareError, match=message):
        prepare_dataset(songs_csv, tmp_path / "out", config)
