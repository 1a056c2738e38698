#!/usr/bin/env python3
"""Exports the English example sentences of WordNet 3.0 (Debian's `wordnet-base`) for the lab's
character-level language model: variable-length real sentences, so that batch statistics see
varying numbers of real tokens (as in the paper's translation task).

    apt-get install wordnet-base && python3 scripts/export_sentences.py

Writes Data/sentences/wordnet-examples.txt: one sentence per line, ASCII, 16 to 96 characters,
about a quarter of all (by a hash of the text), sorted, with a fixed split (a line's split is the parity of a hash of its text, so it does not
depend on the order or on the other lines). WordNet's licence requires its notice beside every
copy: Data/sentences/README.md carries it.
"""
import hashlib
import re
from pathlib import Path

SOURCE = Path("/usr/share/wordnet")
OUT = Path(__file__).resolve().parent.parent / "Data" / "sentences"
QUOTED = re.compile(r'"([^"]+)"')


def main() -> None:
    sentences = set()
    for part in ["noun", "verb", "adj", "adv"]:
        for line in (SOURCE / f"data.{part}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue  # the licence header lines start with two spaces
            gloss = line.split("|", 1)[1]
            for s in QUOTED.findall(gloss):
                s = " ".join(s.split())
                if 16 <= len(s) <= 96 and s.isascii() and len(s.split()) >= 4 and "\t" not in s:
                    sentences.add(s)
    # About a quarter of them (about 330 KB), chosen by hash so the choice is order-free.
    chosen = sorted(s for s in sentences if hashlib.sha256(s.encode()).digest()[1] < 60)
    text = "".join(s + "\n" for s in chosen)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "wordnet-examples.txt").write_text(text, encoding="ascii")
    test = sum(1 for s in chosen if split(s) == "test")
    print(f"{len(chosen)} sentences ({test} test), {len(text)} bytes, "
          f"sha256 {hashlib.sha256(text.encode()).hexdigest()}")


def split(s: str) -> str:
    """`test` for one line in ten, chosen by the first byte of the line's SHA-256."""
    return "test" if hashlib.sha256(s.encode()).digest()[0] % 10 == 0 else "train"


if __name__ == "__main__":
    main()
