"""Find, check and prepare the NLTK data the Object HalBench extractor needs.

Two resources matter:

* **WordNet 3.0** for ``WordNetLemmatizer`` (noun lemmas depend only on
  ``index.noun`` and ``noun.exc``; we fingerprint those two files so that NLTK's
  own download and the Debian copy can be shown to give identical lemmas).
* **Punkt** (``tokenizers/punkt_tab/english``) for sentence splitting inside
  ``nltk.word_tokenize``. Without it an untrained ``PunktSentenceTokenizer`` is
  used, which splits after abbreviations such as "mr." or "st."; the result
  record says which one ran.

Search order at run time: NLTK's own data paths (``NLTK_DATA``, ``~/nltk_data``,
``<venv>/nltk_data`` ...), then halbench's directory (``halbench setup nltk``
fills it, from NLTK's downloader when online or from Debian packages offline).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from halbench.errors import MissingResourceError
from halbench.io import make_temp_dir
from halbench.paths import nltk_data_dir

WORDNET_RESOURCE = "corpora/wordnet"
PUNKT_RESOURCE = "tokenizers/punkt_tab/english/"

#: sha256 over WordNet 3.0's ``index.noun`` and ``noun.exc`` (see ``wordnet_noun_fingerprint``).
#: Same value for Princeton's WordNet 3.0 files and Debian's ``wordnet-base`` 1:3.0.
WORDNET30_NOUN_FINGERPRINT = "19ad85a498112a09136cef1ea8ad5f4a39aa92584017bb670367dac991b2c06e"

DEBIAN_PACKAGES = ("wordnet-base", "wordnet-sense-index", "golang-gopkg-neurosnap-sentences.v1-dev")
DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
DEBIAN_PUNKT_JSON = Path("/usr/share/gocode/src/gopkg.in/neurosnap/sentences.v1/data/english.json")
DEBIAN_LEXNAMES_MAN = Path("/usr/share/man/man5/lexnames.5WN.gz")
SOURCE_MARKER = "HALBENCH_SOURCE.json"

#: WordNet's lexicographer files (``lexnames(5WN)``): number = position, then the
#: syntactic category (1 noun, 2 verb, 3 adjective, 4 adverb). Debian's
#: ``wordnet-base`` lacks the ``lexnames`` file that NLTK's reader opens.
LEXNAMES: tuple[str, ...] = (
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
)
_LEX_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

_FIX = (
    "Fix: run `halbench setup nltk` (or `make setup` in a source checkout). Online it uses\n"
    "NLTK's downloader; offline it builds the data from Debian packages:\n"
    "  apt-get install -y " + " ".join(DEBIAN_PACKAGES) + "\n"
    "  halbench setup nltk\n"
    "Or install NLTK's own data: python -m nltk.downloader wordnet punkt_tab"
)


@dataclass(frozen=True)
class NltkDataInfo:
    """Which NLTK data was found, and where it came from (goes into result records)."""

    nltk_version: str
    wordnet_path: str | None
    wordnet_source: str | None
    wordnet_noun_fingerprint: str | None
    punkt_path: str | None
    punkt_source: str  # "punkt_tab" model, or "untrained" PunktSentenceTokenizer

    @property
    def wordnet_matches_reference(self) -> bool:
        return self.wordnet_noun_fingerprint == WORDNET30_NOUN_FINGERPRINT

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["wordnet_matches_wordnet30"] = self.wordnet_matches_reference
        return d


def _ensure_search_path() -> None:
    import nltk

    ours = str(nltk_data_dir())
    if ours not in nltk.data.path:
        nltk.data.path.append(ours)


def _source_label(path: str) -> str:
    marker = nltk_data_dir() / SOURCE_MARKER
    if path.startswith(str(nltk_data_dir())) and marker.exists():
        try:
            origin = json.loads(marker.read_text()).get("origin", "unknown")
        except (OSError, ValueError):
            origin = "unknown"
        return f"halbench ({origin})"
    return "nltk_data"


def _find(resource: str) -> str | None:
    import nltk

    try:
        return str(nltk.data.find(resource))
    except LookupError:
        return None


def wordnet_root() -> Any:
    """NLTK's path pointer to the WordNet folder or zip it finds (``LookupError`` if none)."""
    import nltk

    _ensure_search_path()
    return nltk.data.find(WORDNET_RESOURCE)


def wordnet_noun_fingerprint(root: Any = None) -> str | None:
    """sha256 over WordNet's ``index.noun`` and ``noun.exc``.

    ``root`` is an NLTK path pointer to a WordNet directory or zip; by default the one
    NLTK finds. Noun lemmas from ``WordNetLemmatizer`` depend on these two files
    only, so equal fingerprints mean identical lemmas. Does not load WordNet.
    """
    import nltk

    if root is None:
        try:
            root = nltk.data.find(WORDNET_RESOURCE)
        except LookupError:
            return None
    h = hashlib.sha256()
    for name in ("index.noun", "noun.exc"):
        with root.join(name).open() as f:
            data = f.read()
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def locate() -> NltkDataInfo:
    """Find the data without loading it and without raising (fast; used for provenance)."""
    import nltk

    _ensure_search_path()
    wn_path = _find(WORDNET_RESOURCE)
    fingerprint = None
    if wn_path is not None:
        try:
            fingerprint = wordnet_noun_fingerprint()
        except (OSError, LookupError):  # partial data: reported as missing files below
            fingerprint = None
    punkt_path = _find(PUNKT_RESOURCE)
    return NltkDataInfo(
        nltk_version=nltk.__version__,
        wordnet_path=wn_path,
        wordnet_source=_source_label(wn_path) if wn_path else None,
        wordnet_noun_fingerprint=fingerprint,
        punkt_path=punkt_path,
        punkt_source="punkt_tab" if punkt_path else "untrained",
    )


def require() -> NltkDataInfo:
    """Return the located data, or raise ``MissingResourceError`` saying how to fix it."""
    info = locate()
    if info.wordnet_path is None:
        raise MissingResourceError(
            "NLTK's WordNet data was not found (needed for the WordNet lemmatizer).\n"
            f"Searched NLTK's data paths and {nltk_data_dir()}.\n{_FIX}"
        )
    if info.wordnet_noun_fingerprint is None:
        raise MissingResourceError(
            f"NLTK's WordNet data at {info.wordnet_path} is incomplete "
            f"(index.noun or noun.exc missing).\n{_FIX}"
        )
    return info


# --------------------------------------------------------------------------- preparation


def _write_lexnames(path: Path) -> None:
    lines = []
    for number, name in enumerate(LEXNAMES):
        lines.append(f"{number:02d}\t{name}\t{_LEX_CATEGORY[name.split('.')[0]]}\n")
    path.write_text("".join(lines))


def lexnames_from_man_page(man_page: Path = DEBIAN_LEXNAMES_MAN) -> list[str]:
    """Parse the lexicographer file table from ``lexnames(5WN)`` (used to check ``LEXNAMES``)."""
    text = gzip.open(man_page, "rt").read()
    rows = re.findall(r"^(\d\d)\t(\S+)", text, re.M)
    return [name for _, name in sorted(rows, key=lambda r: int(r[0]))]


def convert_punkt_json(src: Path, dest_dir: Path) -> None:
    """Write NLTK's ``punkt_tab/english`` files from the Go ``sentences`` package's JSON.

    The JSON holds the same four parameter sets as NLTK's English model:
    ``AbbrevTypes``, ``SentStarters``, ``Collocations`` (keys ``"a,b"``) and
    ``OrthoContext`` (token -> int flags).
    """
    data = json.loads(src.read_text(encoding="utf-8"))
    dest_dir.mkdir(parents=True, exist_ok=True)
    (dest_dir / "abbrev_types.txt").write_text(
        "".join(f"{k}\n" for k in sorted(data["AbbrevTypes"]))
    )
    (dest_dir / "sent_starters.txt").write_text(
        "".join(f"{k}\n" for k in sorted(data["SentStarters"]))
    )
    pairs = []
    for key in sorted(data["Collocations"]):
        a, sep, b = key.partition(",")
        if not sep or "," in b:
            raise ValueError(f"{src}: unexpected collocation key {key!r}")
        pairs.append(f"{a}\t{b}\n")
    (dest_dir / "collocations.tab").write_text("".join(pairs))
    ortho = data["OrthoContext"]
    (dest_dir / "ortho_context.tab").write_text(
        "".join(f"{k}\t{int(ortho[k])}\n" for k in sorted(ortho))
    )


def build_from_debian(
    target: Path,
    wordnet_dir: Path = DEBIAN_WORDNET_DIR,
    punkt_json: Path = DEBIAN_PUNKT_JSON,
) -> None:
    """Build ``corpora/wordnet`` and ``tokenizers/punkt_tab/english`` under ``target``.

    Written to a temporary directory first and moved into place, so an interrupted
    run never leaves half-written data that would later be found and used.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(target.parent, ".nltk_data-")  # mkdir's mode, not 0o700
    try:
        wn = tmp / "corpora" / "wordnet"
        shutil.copytree(wordnet_dir, wn, ignore=shutil.ignore_patterns("bin", "pixmaps", "wnres"))
        _write_lexnames(wn / "lexnames")
        if punkt_json.exists():
            convert_punkt_json(punkt_json, tmp / "tokenizers" / "punkt_tab" / "english")
        (tmp / SOURCE_MARKER).write_text(
            json.dumps(
                {
                    "origin": "debian",
                    "wordnet": str(wordnet_dir),
                    "punkt": str(punkt_json) if punkt_json.exists() else None,
                    "packages": _debian_versions(),
                },
                indent=2,
            )
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _debian_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for pkg in DEBIAN_PACKAGES:
        try:
            res = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", pkg],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if res.returncode == 0 and res.stdout:
            out[pkg] = res.stdout.strip()
    return out


def _apt_install(log: list[str]) -> bool:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        log.append("apt-get is not available or this is not root: cannot install Debian packages.")
        return False
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt in (cmd, None):
        if attempt is None:  # second try after refreshing the package lists
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
            attempt = cmd
        res = subprocess.run(attempt, env=env, capture_output=True, text=True, check=False)
        if res.returncode == 0:
            log.append("installed Debian packages: " + " ".join(DEBIAN_PACKAGES))
            return True
    log.append("apt-get install failed: " + (res.stderr.strip().splitlines() or ["?"])[-1])
    return False


def _try_download(target: Path, log: list[str]) -> bool:
    import nltk

    ok = True
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    for pkg in ("wordnet", "punkt_tab"):
        # The downloader prints its own errors and warnings; keep them in our log instead.
        out = io.StringIO()
        try:
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(out),
            ):
                warnings.simplefilter("ignore")
                got = nltk.download(pkg, download_dir=str(target), quiet=True, raise_on_error=False)
        except Exception as exc:  # the downloader raises on some network failures
            got = False
            log.append(f"NLTK downloader failed for {pkg}: {exc}")
        ok = ok and bool(got)
    log.append("NLTK downloader: " + ("ok" if ok else "not reachable"))
    return ok


def prepare(
    *, download: bool = True, install_debian: bool = False
) -> tuple[NltkDataInfo, list[str]]:
    """Make WordNet and Punkt available; return what was found and a log of what was done.

    Order: data already present -> NLTK's downloader (online) -> Debian packages
    (``install_debian`` installs them with apt-get when running as root).
    """
    log: list[str] = []
    info = locate()
    if info.wordnet_path and info.punkt_path:
        log.append("NLTK data already present.")
        return info, log
    target = nltk_data_dir()
    if download and _try_download(target, log):
        _reset_nltk_caches()
        info = locate()
        if info.wordnet_path and info.punkt_path:
            return info, log
    if not DEBIAN_WORDNET_DIR.exists() and install_debian:
        _apt_install(log)
    if DEBIAN_WORDNET_DIR.exists():
        build_from_debian(target)
        log.append(f"built NLTK data from Debian packages into {target}")
        _reset_nltk_caches()
        info = locate()
    else:
        log.append(f"{DEBIAN_WORDNET_DIR} not found (Debian package wordnet-base).")
    if info.wordnet_path is None:
        raise MissingResourceError(
            "Could not prepare NLTK's WordNet data.\n" + "\n".join(log) + "\n" + _FIX
        )
    return info, log


def _reset_nltk_caches() -> None:
    """Forget NLTK's memoised lookups so newly written data is found in this process."""
    import nltk
    from nltk.corpus import wordnet
    from nltk.tokenize import _get_punkt_tokenizer

    _get_punkt_tokenizer.cache_clear()
    if hasattr(wordnet, "_unload"):
        try:
            wordnet._unload()
        except Exception:  # not loaded yet
            pass
    nltk.data._resource_cache.clear()
