"""Name compatibility: the same person written another way, or someone else?

Names arrive folded by :func:`moneytrail.normalise.normalise_name` (ASCII, lower
case, punctuation gone, token order kept). Two names are *compatible* when they
could be the same person: the same tokens in any order, a typo, or a shorter
form whose every token is the same, a prefix ("ma" for "maria") or an initial
("j" for "john") of a token of the longer one, anchored by one full token in
common ("j a smith" ~ "john andrew smith"; "ma santos reyes" ~ "maria santos").
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz.distance import OSA, JaroWinkler


def _similar(t: str, u: str) -> bool:
    return min(len(t), len(u)) >= 3 and JaroWinkler.similarity(t, u) >= 0.85


def _token_ok(t: str, u: str) -> bool:
    if t == u:
        return True
    if len(t) == 1 or len(u) == 1:
        return t[0] == u[0]
    if u.startswith(t) or t.startswith(u):
        return True
    return _similar(t, u)


def _anchor(t: str, u: str) -> bool:
    if t == u:
        return len(t) >= 2
    return _similar(t, u)


def names_compatible(a: str | None, b: str | None) -> bool:
    """Could these two folded names belong to one person? Missing names are compatible.

    Token by token: equal, an initial, a prefix ("ma" ~ "maria"), or similar
    (Jaro-Winkler >= 0.85 for tokens of three letters or more, which admits
    one-letter typos: "jhn" ~ "john", "smath" ~ "smith"); at least one token in
    common besides initials.
    """
    if not a or not b:
        return True
    ta, tb = sorted(a.split()), sorted(b.split())
    if ta == tb or JaroWinkler.similarity(" ".join(ta), " ".join(tb)) >= 0.95:
        return True
    short, long_ = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    if not any(_anchor(t, u) for t in short for u in long_):
        return False
    return all(any(_token_ok(t, u) for u in long_) for t in short)


def _initial_parts(tokens: list[str]) -> tuple[str, list[str]] | None:
    """A name written with initials ("s thomas", "andrea k weber", "b j price", token
    order kept): its first word, the given name or its initial, and the words after
    its last initial, the surname (one word, or two for a double surname). None when
    no word follows an initial ("smith j", or no initial at all): the parts are
    unknown."""
    last = max((i for i, t in enumerate(tokens) if len(t) == 1), default=-1)
    if last < 0 or last == len(tokens) - 1:
        return None
    return tokens[0], tokens[last + 1 :]


def surname_only_words(names: Iterable[str]) -> frozenset[str]:
    """Words the data shows as surnames and never as given names: a word after the last
    initial of a name ("thomas" in "s thomas", "weber" in "andrea k weber") is a
    surname; the first word of a name holding an initial further on ("andrea" in
    "andrea k weber") is a given name. "thomas" is both in most worlds;
    "sullivan" only a surname."""
    given: set[str] = set()
    surname: set[str] = set()
    for name in names:
        parts = _initial_parts(name.split())
        if parts is None:
            continue
        first, sur = parts
        if len(first) > 1:
            given.add(first)
        surname.update(sur)
    return frozenset(surname - given)


def initials_agree(a: str | None, b: str | None, surname_only: frozenset[str] = frozenset()) -> bool:
    """Do two folded names, in their written order, agree on what initials mean?

    An initial abbreviates a given or middle name, never the surname, which a name
    written with initials gives in full after them ("s thomas" is S. Thomas;
    "andrea k weber" is Andrea K. Weber). So, for each name written so: (1) a word of
    its surname is in the other name in full (equal, or a typo); (2) its first word,
    the given name or its initial, stands for a word of the other name besides that
    surname, and not one the data shows only as a surname (:func:`surname_only_words`),
    unless the other name has no word besides ("c deborah wilson" ~ "deborah wilson":
    a middle name in full).
    :func:`names_compatible` accepts "s thomas" ~ "thomas sullivan" (s for Sullivan),
    "andrea k weber" ~ "andrea kruger" (k for Kruger, Weber extra) and "b j price" ~
    "julie price" (j for Julie, b extra); this test refuses all three and keeps
    "j a smith" ~ "john andrew smith", "a k weber" ~ "weber andrea",
    "ma c santos reyes" ~ "maria santos" and "r c soriano" ~ "rey cabrera soriano".
    Names without a word after an initial are not tested (True).
    """
    if not a or not b:
        return True
    ta, tb = a.split(), b.split()
    for x, y in ((ta, tb), (tb, ta)):
        parts = _initial_parts(x)
        if parts is None:
            continue
        first, surname = parts
        hits = set()
        for s in surname:  # the word itself, else a typo of it ("clark" is not "claire")
            same = {j for j, u in enumerate(y) if u == s and len(s) >= 2}
            hits |= same or {j for j, u in enumerate(y) if _anchor(s, u)}
        if not hits:
            return False
        rest = [u for j, u in enumerate(y) if j not in hits]
        if rest and not any(_token_ok(first, u) and u not in surname_only for u in rest):
            return False
    return True


def _counterpart(t: str, u: str) -> bool:
    """``u`` could be ``t`` as written elsewhere: the same word, an initial or prefix of
    it (or it of ``u``), or at most two edits away (a typo, a transliteration:
    "smath", "joselyn", "krueger", "jhon")."""
    if t == u:
        return True
    if len(t) == 1 or len(u) == 1:
        return t[0] == u[0]
    return u.startswith(t) or t.startswith(u) or OSA.distance(t, u, score_cutoff=2) <= 2


def words_apart(a: str | None, b: str | None) -> bool:
    """Do two folded names differ in a word that only looks like a typo?

    True when each name holds a word of three letters or more with no counterpart in
    the other (:func:`_counterpart`: no equal word, initial, prefix, nor one within two
    edits), and two such words are similar enough (Jaro-Winkler >= 0.85) for
    :func:`names_compatible` to pair them as one word mistyped: "christopher thomas" ~
    "christopher thompson", "noel santos" ~ "noel santiago". A typo or a spelling
    variant is one or two edits ("smath", "jhon", "joselyn", "krueger"); three or more
    make another name. An extra word on one side alone (a middle name) is not a
    difference: "daniel martin" and "timothy daniel martin" are not apart. Missing
    names are not apart.
    """
    if not a or not b:
        return False
    ta, tb = a.split(), b.split()
    lone_a = [t for t in ta if len(t) >= 3 and not any(_counterpart(t, u) for u in tb)]
    if not lone_a:
        return False
    lone_b = [u for u in tb if len(u) >= 3 and not any(_counterpart(u, t) for t in ta)]
    return any(_similar(t, u) for t in lone_a for u in lone_b)


# The same test in SQL, as DuckDB macros over token lists, so that Splink
# comparison levels can call them by name (a Spark backend registers UDFs of the
# same names).
def _token_ok_sql(t: str, u: str) -> str:
    return (
        f"({t} = {u} OR ((length({t}) = 1 OR length({u}) = 1) AND {t}[1] = {u}[1]) "
        f"OR (length({t}) > 1 AND length({u}) > 1 AND (starts_with({u}, {t}) OR starts_with({t}, {u}))) "
        f"OR (least(length({t}), length({u})) >= 3 AND jaro_winkler_similarity({t}, {u}) >= 0.85))"
    )


_SUBSET = (
    "len(list_filter(s, lambda t: len(list_filter(l, lambda u: (t = u AND length(t) >= 2) "
    "OR (least(length(t), length(u)) >= 3 AND jaro_winkler_similarity(t, u) >= 0.85))) > 0)) > 0 "
    "AND len(list_filter(s, lambda t: len(list_filter(l, lambda u: " + _token_ok_sql("t", "u") + ")) = 0)) = 0"
)

MACROS = (
    f"CREATE OR REPLACE MACRO mt_subset_compatible(s, l) AS ({_SUBSET})",
    "CREATE OR REPLACE MACRO mt_names_compatible(a, b) AS (CASE WHEN len(a) <= len(b) "
    "THEN mt_subset_compatible(a, b) ELSE mt_subset_compatible(b, a) END)",
    "CREATE OR REPLACE MACRO mt_shared_token(a, b) AS "
    "(len(list_filter(list_intersect(a, b), lambda t: length(t) >= 3)) > 0)",
    # a word of one name close to a word of the other ("harroet" ~ "harriet") when the
    # other words were replaced or mistyped
    "CREATE OR REPLACE MACRO mt_similar_token(a, b) AS "
    "(len(list_filter(a, lambda t: len(list_filter(b, lambda u: least(length(t), length(u)) >= 4 "
    "AND jaro_winkler_similarity(t, u) >= 0.88)) > 0)) > 0)",
    # free-text addresses: at least half the words of the shorter one appear in the
    # other ("togo place caravn park" ~ "40 togo p lace carav park")
    "CREATE OR REPLACE MACRO mt_half_words(a, b) AS "
    "(len(list_intersect(string_split(a, ' '), string_split(b, ' '))) * 2 >= "
    "least(len(string_split(a, ' ')), len(string_split(b, ' '))))",
)


def install_macros(con: object, *, temp: bool = False) -> None:
    """Create the name macros on a DuckDB connection (``temp``: for this session only,
    not stored in the warehouse file)."""
    for sql in MACROS:
        if temp:
            sql = sql.replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO")
        con.execute(sql)  # type: ignore[attr-defined]
