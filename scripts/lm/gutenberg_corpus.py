#!/usr/bin/env python3
"""Extracts, normalises and deduplicates the public-domain English works of scripts/lm/build_gutenberg_corpus.sh.

    python3 scripts/lm/gutenberg_corpus.py --unpacked DIR --corpora DIR --versions FILE --out DIR

--unpacked: the Debian packages unpacked with `dpkg -x` into one tree; --corpora: the cache's corpora/ folder
(kjv.txt and the other files of scripts/fetch_data.sh); --versions: "package<TAB>version" lines; --out: the folder
to write (one UTF-8 file per work, NN-name.txt, and MANIFEST.tsv). Standard library only.

Per work: CRLF -> LF, a Project Gutenberg header and licence footer (outside the "*** START/END OF" lines) dropped,
markup of the SWORD modules (OSIS) removed (notes dropped), trailing spaces stripped, runs of blank lines collapsed.
Deduplication over the whole corpus, in the order of WORKS: a unit -- a paragraph (text between blank lines), or a
line for the verse-per-line KJV -- whose normalised form (lower case, whitespace collapsed) has at least 48
characters is dropped when an earlier unit had the same form; shorter units (headings, "CHAPTER I") always stay.
"""
import argparse
import gzip
import hashlib
import html
import os
import re
import struct
import sys
import zlib

SWORD = "usr/share/sword/modules"
# (file stem, Debian package, reader, where, line units)
WORKS = [
    ("01-kjv-bible", "bible-kjv", "cache", "kjv.txt", True),
    ("02-world-english-bible", "sword-text-web", "sword", f"{SWORD}/texts/ztext/engWEB2015eb", False),
    ("03-matthew-henry-concise-commentary", "sword-comm-mhcc", "sword", f"{SWORD}/comments/zcom/mhcc", False),
    ("04-spurgeon-treasury-of-david", "sword-comm-tdavid", "sword", f"{SWORD}/comments/zcom/tdavid", False),
    ("05-scofield-reference-notes-1917", "sword-comm-scofield", "sword", f"{SWORD}/comments/zcom/scofield", False),
    ("06-austen-emma", "r-cran-janeaustenr", "rdb", 0, False),
    ("07-austen-mansfield-park", "r-cran-janeaustenr", "rdb", 1, False),
    ("08-austen-northanger-abbey", "r-cran-janeaustenr", "rdb", 2, False),
    ("09-austen-persuasion", "r-cran-janeaustenr", "rdb", 3, False),
    ("10-austen-pride-and-prejudice", "r-cran-janeaustenr", "rdb", 4, False),
    ("11-austen-sense-and-sensibility", "r-cran-janeaustenr", "rdb", 5, False),
    ("12-bierce-devils-dictionary", "dict-devil", "dictdz", "usr/share/dictd/devil.dict.dz", False),
    ("13-doyle-adventures-of-sherlock-holmes", "golang-github-pierrec-lz4-dev", "cache", "sherlock-holmes.txt", False),
    ("14-twain-tom-sawyer", "golang-github-pierrec-lz4-dev", "cache", "tom-sawyer.txt", False),
    ("15-newton-opticks", "golang-github-andybalholm-brotli-dev", "cache", "opticks.txt", False),
    ("16-shakespeare-hamlet-act-1", "golang-github-golang-leveldb-dev", "cache", "hamlet-act-1.txt", False),
]
AUSTEN_TITLES = ["EMMA", "MANSFIELD PARK", "NORTHANGER ABBEY", "PERSUASION", "PRIDE AND PREJUDICE",
                 "SENSE AND SENSIBILITY"]
MIN_DEDUP_CHARS = 48


def sword_text(moddir):
    """The whole text of a SWORD zText/zCom module: every zlib block of its .?zs index, OT then NT."""
    parts = []
    for testament in ("ot", "nt"):
        for block in "bcv":  # BlockType BOOK, CHAPTER, VERSE
            idx_path = os.path.join(moddir, f"{testament}.{block}zs")
            if not os.path.exists(idx_path) or os.path.getsize(idx_path) == 0:
                continue
            idx = open(idx_path, "rb").read()
            data = open(os.path.join(moddir, f"{testament}.{block}zz"), "rb").read()
            for i in range(0, len(idx) - 11, 12):
                offset, size, _ = struct.unpack("<III", idx[i:i + 12])
                if size:
                    parts.append(zlib.decompress(data[offset:offset + size]).decode("utf-8", "replace"))
    if not parts:
        raise SystemExit(f"gutenberg_corpus.py: no SWORD text blocks in {moddir}")
    return "".join(parts)


NOTE = re.compile(r"<note\b[^>]*?(?<!/)>.*?</note>", re.S)
BREAK = re.compile(r"<(?:div|p|lb|l|title|chapter|list|item|row|lg)\b[^>]*>|</(?:p|title|l|item|row|lg|div)>")
TAG = re.compile(r"<[^>]*>")


def strip_osis(text):
    text = NOTE.sub(" ", text)
    text = BREAK.sub("\n\n", text)
    text = TAG.sub("", text)
    return html.unescape(text)


def rdb_strings(path):
    """The character vectors of an R lazy-load database (zlib chunks of XDR-serialised STRSXP objects), in order."""
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos + 4 < len(data):
        d = zlib.decompressobj()
        blob = d.decompress(data[pos + 4:])
        pos = len(data) - len(d.unused_data)
        if blob[:2] != b"X\n":
            raise SystemExit(f"gutenberg_corpus.py: {path}: not an XDR serialisation")
        p = 2

        def i32():
            nonlocal p
            v = struct.unpack(">i", blob[p:p + 4])[0]
            p += 4
            return v
        version = i32()
        i32(), i32()
        if version == 3:
            n = i32()  # the native encoding's name
            p += n
        if i32() & 0xFF != 16:  # STRSXP
            continue
        strings = []
        for _ in range(i32()):
            if i32() & 0xFF != 9:  # CHARSXP
                raise SystemExit(f"gutenberg_corpus.py: {path}: unexpected element in a character vector")
            n = i32()
            if n >= 0:
                strings.append(blob[p:p + n].decode("utf-8", "replace"))
                p += n
        out.append(strings)
    return out


def drop_gutenberg_frame(text):
    start = re.search(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*$", text, re.M | re.I)
    end = re.search(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG.*$", text, re.M | re.I)
    if start and end and end.start() > start.end():
        return text[start.end():end.start()]
    return text


def normalise(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    out, blank = [], False
    for line in lines:
        if not line:
            blank = True
            continue
        if blank and out:
            out.append("")
        out.append(line)
        blank = False
    return "\n".join(out) + "\n"


def units(text, line_units):
    """(unit text, separator after it): paragraphs, or single lines for verse-per-line text."""
    if line_units:
        return [(line, "\n") for line in text.rstrip("\n").split("\n")]
    return [(p, "\n\n") for p in text.rstrip("\n").split("\n\n")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unpacked", required=True)
    ap.add_argument("--corpora", required=True)
    ap.add_argument("--versions", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    versions = dict(line.rstrip("\n").split("\t", 1) for line in open(a.versions) if "\t" in line)
    os.makedirs(a.out, exist_ok=True)
    austen = None
    seen = set()
    manifest = ["file\tpackage\tversion\tsource\tbytes_in\tbytes_out\tunits_dropped_as_duplicates"]
    total_in = total_out = 0
    for stem, package, reader, where, line_units in WORKS:
        if reader == "cache":
            source = os.path.join(a.corpora, where)
            raw = open(source, "rb").read().decode("utf-8", "replace")
            raw = drop_gutenberg_frame(raw.replace("\r\n", "\n"))
        elif reader == "sword":
            source = os.path.join(a.unpacked, where)
            raw = strip_osis(sword_text(source))
        elif reader == "rdb":
            source = os.path.join(a.unpacked, "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb")
            if austen is None:
                austen = rdb_strings(source)
                if len(austen) != len(AUSTEN_TITLES):
                    raise SystemExit(f"gutenberg_corpus.py: {source}: expected 6 novels, found {len(austen)}")
            lines = austen[where]
            if AUSTEN_TITLES[where] not in " ".join(lines[:12]).upper():
                raise SystemExit(f"gutenberg_corpus.py: {source}: novel {where} is not {AUSTEN_TITLES[where]}")
            raw = "\n".join(lines)
            source += f"#{where}"
        elif reader == "dictdz":
            source = os.path.join(a.unpacked, where)
            raw = gzip.open(source, "rb").read().decode("utf-8", "replace")
            # dictd's own header entries (00-database-*) and the source URL lines
            raw = "\n".join(l for l in raw.split("\n") if not l.startswith("00-database") and "http://" not in l)
        else:
            raise SystemExit(f"unknown reader {reader}")
        text = normalise(raw)
        kept, dropped = [], 0
        for unit, sep in units(text, line_units):
            key = re.sub(r"\s+", " ", unit.lower()).strip()
            if len(key) >= MIN_DEDUP_CHARS:
                digest = hashlib.sha1(key.encode()).digest()
                if digest in seen:
                    dropped += 1
                    continue
                seen.add(digest)
            kept.append(unit + sep)
        body = "".join(kept).rstrip("\n") + "\n"
        path = os.path.join(a.out, stem + ".txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
        n_in, n_out = len(text.encode()), len(body.encode())
        total_in += n_in
        total_out += n_out
        manifest.append(f"{stem}.txt\t{package}\t{versions.get(package, '?')}\t{os.path.relpath(source, a.unpacked) if reader in ('sword', 'rdb', 'dictdz') else source}\t{n_in}\t{n_out}\t{dropped}")
        print(f"  {stem + '.txt':48} {n_out:>11,d} bytes  ({package}; {dropped} duplicate units dropped)")
    with open(os.path.join(a.out, "MANIFEST.tsv"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    print(f"  {'total':48} {total_out:>11,d} bytes  ({total_in - total_out:,d} bytes of duplicates dropped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
