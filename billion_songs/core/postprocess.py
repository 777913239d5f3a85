"""Raw model text -> a clean title and lyrics.

Small models wander into chat habits ("Sure! Here's a song...", markdown, closing notes);
none of that may reach a page. Section labels are kept, in one spelling: "[Chorus]".
"""

from __future__ import annotations

import re

MAX_TITLE_CHARS = 80

_CHAT_LINE = re.compile(
    r"^\s*(sure|certainly|of course|here'?s|here is|here are|i hope|hope you|i've written|"
    r"i have written|as an ai|note:|this song|these lyrics|feel free|let me know|enjoy!?$|"
    r"title:|lyrics:|song title:)",
    re.IGNORECASE,
)
_ROLE_TOKEN = re.compile(r"<\|[a-z_]+\|>", re.IGNORECASE)
_ROLE_NAME = re.compile(r"^(system|user|assistant)$", re.IGNORECASE)
_SECTION = re.compile(
    r"^[\s*#_(\[]*(verse|chorus|pre-chorus|bridge|outro|intro|refrain|hook|final chorus)"
    r"(\s*\d+)?\s*[:)\]*_]*\s*$",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"(\*\*|__|^#+\s*|^>\s*|`+)")


def _clean_line(line: str) -> str:
    line = _ROLE_TOKEN.sub("", line)
    line = _MARKUP.sub("", line.strip())
    return re.sub(r"\s+", " ", line).strip()


def _section_label(line: str) -> str | None:
    match = _SECTION.match(line)
    if not match:
        return None
    number = (match.group(2) or "").strip()
    return f"[{match.group(1).title()}{' ' + number if number else ''}]"


def clean_title(raw: str) -> str:
    title = _clean_line(raw)
    title = re.sub(r"^(song )?title\s*:\s*", "", title, flags=re.IGNORECASE)
    title = title.strip(" \"'“”‘’*-–—:,;")  # a verse's first line often ends in "," or ";"
    if len(title) > MAX_TITLE_CHARS:
        title = title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0]
    return title


def clean_song(raw: str, *, complete: bool) -> tuple[str, str]:
    """Split raw generated text (everything after the prompt) into (title, lyrics).

    complete: False when generation stopped at the length limit rather than an end token;
    the unfinished last line is then dropped so a song always ends at a line boundary.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if not complete and "\n" in text:
        text = text[: text.rfind("\n")]
    lines = text.split("\n")
    title = clean_title(lines[0]) if lines else ""
    body: list[str] = []
    for raw_line in lines[1:]:
        if raw_line.strip().startswith("```"):
            continue
        line = _clean_line(raw_line)
        if _CHAT_LINE.match(line) or _ROLE_NAME.match(line) or (raw_line.strip() and not line):
            continue  # chat talk, a role header, or a line that held only markup/tokens
        label = _section_label(line)
        body.append(label if label else line)
    # Stanzas: collapse runs of blank lines, drop leading/trailing blanks and lone labels at the end.
    lyrics = re.sub(r"\n{3,}", "\n\n", "\n".join(body)).strip("\n")
    lines_out = lyrics.split("\n")
    while lines_out and (not lines_out[-1].strip() or _SECTION.match(lines_out[-1])):
        lines_out.pop()
    return title, "\n".join(lines_out).strip()
