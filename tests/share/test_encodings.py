from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moneytrail.errors import UserError
from moneytrail.share.encodings import (
    DEFAULT_SCHEMA,
    ClkSchema,
    Encoder,
    FieldSpec,
    choose_block_bits,
    dob_key,
    make_profile,
    name_key,
    normalise_identifier,
    qgrams,
    subject_values,
)
from moneytrail.share.match import MatchSettings, dice_and_containment, dice_pairs

SECRET = b"k" * 32


def dice(enc: Encoder, a: Mapping[str, str | None], b: Mapping[str, str | None]) -> float:
    m = enc.clk_matrix([make_profile(**a), make_profile(**b)])
    return float(dice_pairs(m, m, np.array([0]), np.array([1]))[0])


def test_qgrams_padded_and_positional() -> None:
    assert qgrams("ann", 2, False) == [" a", "an", "nn", "n "]
    assert qgrams("1970", 1, True) == ["1 1", "2 9", "3 7", "4 0"]
    assert qgrams("", 2, False) == []


def test_normalised_values() -> None:
    assert name_key("SMITH, John") == name_key("john smith") == "john smith"
    assert dob_key(date(1971, 5, 2)) == dob_key("1971-05-02") == "19710502"
    assert dob_key("1971") is None
    assert normalise_identifier("iban", "de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    assert normalise_identifier("id_doc", "passport: x-123") == "PASSPORT:X123"
    with pytest.raises(UserError, match="unknown identifier kind"):
        normalise_identifier("shoe size", "44")


@given(st.integers(min_value=2_000_000, max_value=9_999_999))
def test_phone_notations_give_one_token(n: int) -> None:
    """A Philippine mobile written three ways is one identifier, hence one token."""
    enc = Encoder(SECRET)
    digits = f"917{n:07d}"
    forms = [f"0{digits[:3]} {digits[3:6]} {digits[6:]}", f"+63{digits}", f"0063-{digits}"]
    tokens = {enc.token("phone", normalise_identifier("phone", f, "PH") or "") for f in forms}
    assert len(tokens) == 1


@given(st.text(min_size=1, max_size=30))
def test_tokens_depend_on_kind_and_secret(value: str) -> None:
    enc, other = Encoder(SECRET), Encoder(b"x" * 32)
    assert enc.token("email", value) == enc.token("email", value)
    assert enc.token("email", value) != enc.token("phone", value)
    assert enc.token("email", value) != other.token("email", value)
    assert len(enc.token("email", value)) == 22  # 128 bits, whatever the value's length


def test_similar_names_are_close_and_different_people_far() -> None:
    enc = Encoder(SECRET)
    base = {"name": "Maria Santos", "dob": "1990-03-04", "city": "Cebu"}
    assert dice(enc, base, base) == 1.0
    assert dice(enc, base, {**base, "name": "SANTOS Maria"}) == 1.0  # token order
    assert dice(enc, base, {**base, "name": "Maria Santso"}) > 0.85  # typo
    assert dice(enc, base, {"name": "Jose Reyes", "dob": "1961-11-22", "city": "Manila"}) < 0.65  # chance overlap of half-full filters


def test_clks_are_keyed() -> None:
    p = [make_profile("Maria Santos", "1990-03-04", "Cebu")]
    a, b = Encoder(SECRET).clk_matrix(p), Encoder(b"y" * 32).clk_matrix(p)
    assert not np.array_equal(a, b)
    # about as far apart as two unrelated filters
    assert float(dice_pairs(a, b, np.array([0]), np.array([0]))[0]) < 0.6


def test_field_weights_set_about_their_bits() -> None:
    enc = Encoder(SECRET)
    one = enc.clk_matrix([make_profile(name="Maria Santos")])
    both = enc.clk_matrix([make_profile(name="Maria Santos", dob="1990-03-04")])
    n1, n2 = int(np.bitwise_count(one).sum()), int(np.bitwise_count(both).sum())
    assert 160 < n1 <= 13 * 15  # 13 bigrams of " maria santos " x 15 bits each, with collisions
    assert n2 - n1 > 200  # the date adds most of its 400 (bits per field, whatever its length)
    per_feature = ClkSchema((FieldSpec("name", bits=300),))
    n3 = int(np.bitwise_count(Encoder(SECRET, per_feature).clk_matrix([make_profile(name="Maria Santos")])).sum())
    assert 230 < n3 <= 300  # 300 insertions spread over the bigrams


def test_a_name_without_its_middle_name_is_nearly_inside_the_full_one() -> None:
    """With bits per bigram, the short form's bits are (but for collisions) a
    subset of the long form's: containment near 1 though Dice is low."""
    enc = Encoder(SECRET)
    m = enc.clk_matrix([make_profile(name="Linda Adams"), make_profile(name="Linda Margaret Adams"),
                        make_profile(name="Lisa Adams")])
    d, short_in_long, long_in_short = dice_and_containment(m, m, np.array([0, 2]), np.array([1, 1]))
    assert short_in_long[0] > 0.9 and d[0] < 0.9 and long_in_short[0] < 0.7
    assert short_in_long[1] < MatchSettings().part_threshold  # another first name is not inside


def test_encode_field_sets_and_blocks() -> None:
    enc = Encoder(SECRET)
    s = subject_values("S1", [make_profile("Maria Santos", "1990-03-04", "Cebu"), make_profile("Ma Santos")],
                       [("phone", "0917 555 0101"), ("email", "not an email")], country="PH")
    e = enc.encode([s])
    # 4 field sets for the full profile (name+dob+city, name+dob, name+city, name), 1 for the name alone
    assert sorted(e.clk_mask.tolist()) == [1, 1, 3, 5, 7]
    assert set(e.clk_full.tolist()) == {7, 1}
    assert e.token_kind == ["phone"]  # the malformed e-mail was dropped
    assert set(e.block_clk.tolist()) == set(range(len(e.clks)))
    assert (e.block_bucket < (1 << e.block_bits)).all()


def test_schema_checks_and_roundtrip() -> None:
    assert ClkSchema.from_dict(DEFAULT_SCHEMA.as_dict()) == DEFAULT_SCHEMA
    assert DEFAULT_SCHEMA.strong_mask() == 0b010
    with pytest.raises(UserError, match="power of two"):
        ClkSchema((FieldSpec("name"),), length=1000)
    with pytest.raises(UserError, match="malformed"):
        ClkSchema.from_dict({"fields": [{"name": "x"}]})
    with pytest.raises(UserError, match="too short"):
        Encoder(b"short")


def test_block_bits_mix_keys() -> None:
    assert choose_block_bits(10) == 10
    bits = choose_block_bits(1_000_000)
    assert (1 << bits) * 4 >= 1_000_000 > (1 << (bits - 1)) * 4
