"""A vote as one statement on PostgreSQL: `songs_vote_cast`, a PL/pgSQL function.

`services.vote_cast` does, on SQLite, four statements in a transaction: lock the song's
tally (made first for the song's first vote), read the visitor's vote, write it, write the
counts. Each is a round trip, and the tally row, the song's mutex, stays locked from the
first to the commit while the web process's threads take turns: under load the voters of
one song queued behind Python. On PostgreSQL the same steps run inside the server, in the
order and with the locks described in services.py, as one call in autocommit: one round
trip, no BEGIN or COMMIT of its own, and the lock held for microseconds.

`wilson` is computed as ranking.wilson_lower_bound computes it, operation for operation in
double precision, so the two give the same bits (tests/web/songs/test_vote_function.py
compares them); Z_95 is the same constant. Created by migration 0006, and replaced by a
later migration if the tables or the computation change.
"""

from __future__ import annotations

from billion_songs.web.songs.data.ranking import Z_95

NAME = "songs_vote_cast"


def create_sql(*, tally: str, song: str, vote: str) -> str:
    """CREATE OR REPLACE of the function, for the given (quoted) table names.

    songs_vote_cast(user_id, stored song id, value, now) returns one row (before, up, down,
    revision) as committed, or no row when the song cannot be voted on."""
    return f"""
CREATE OR REPLACE FUNCTION {NAME}(p_user bigint, p_song bigint, p_value integer, p_now timestamptz)
RETURNS TABLE (before integer, up bigint, down bigint, revision bigint)
LANGUAGE plpgsql AS $body$
DECLARE
    t_up bigint; t_down bigint; t_revision bigint;
    v_id bigint; v_before integer;
    z float8 := {Z_95!r}; z2 float8; n float8; p float8; centre float8; spread float8; w float8;
BEGIN
    -- The tally of a song that can be voted on, locked: the song's mutex.
    SELECT t.up, t.down, t.revision INTO t_up, t_down, t_revision
        FROM {tally} t INNER JOIN {song} s ON s.id = t.song_id
        WHERE t.song_id = p_song AND s.ok AND NOT s.hidden FOR UPDATE OF t;
    IF NOT FOUND THEN
        PERFORM 1 FROM {song} s WHERE s.id = p_song AND s.ok AND NOT s.hidden;
        IF NOT FOUND THEN
            RETURN;  -- missing, failed or hidden: no row
        END IF;
        -- The song's first vote: two first voters never both insert.
        INSERT INTO {tally} (song_id, up, down, score, wilson, revision, updated)
            VALUES (p_song, 0, 0, 0, 0.0, 0, p_now) ON CONFLICT (song_id) DO NOTHING;
        SELECT t.up, t.down, t.revision INTO t_up, t_down, t_revision
            FROM {tally} t WHERE t.song_id = p_song FOR UPDATE;
    END IF;
    SELECT v.id, v.value INTO v_id, v_before FROM {vote} v WHERE v.user_id = p_user AND v.song_id = p_song;
    IF NOT FOUND THEN
        v_before := 0;
    END IF;
    IF v_before <> p_value THEN
        IF p_value = 0 THEN
            DELETE FROM {vote} WHERE id = v_id;
        ELSIF v_id IS NULL THEN
            INSERT INTO {vote} (user_id, song_id, value, created, updated) VALUES (p_user, p_song, p_value, p_now, p_now);
        ELSE
            UPDATE {vote} SET value = p_value, updated = p_now WHERE id = v_id;
        END IF;
        t_up := t_up + (p_value = 1)::integer - (v_before = 1)::integer;
        t_down := t_down + (p_value = -1)::integer - (v_before = -1)::integer;
        t_revision := t_revision + 1;
        -- ranking.wilson_lower_bound, step for step.
        w := 0.0;
        IF t_up + t_down > 0 THEN
            n := (t_up + t_down)::float8;
            p := t_up::float8 / n;
            z2 := z * z;
            centre := p + z2 / (2 * n);
            spread := z * sqrt((p * (1 - p) + z2 / (4 * n)) / n);
            w := greatest(0.0, (centre - spread) / (1 + z2 / n));
        END IF;
        UPDATE {tally} SET up = t_up, down = t_down, score = t_up - t_down, wilson = w, revision = t_revision,
            updated = p_now WHERE song_id = p_song;
    END IF;
    RETURN QUERY SELECT v_before, t_up, t_down, t_revision;
END
$body$
"""


DROP_SQL = f"DROP FUNCTION IF EXISTS {NAME}(bigint, bigint, integer, timestamptz)"
