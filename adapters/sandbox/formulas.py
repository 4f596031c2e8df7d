"""Each vendor's score, computed from real activity features the way the vendor said it scored.

One pure, vectorized function per vendor, all with the same signature::

    formula(features, feature_names, ids, *, version=1, reference=None) -> VendorScores

- ``features``: float array ``[people x features]``; columns are found by ``feature_names``.
- ``ids``: one stable id per row. Anything person-specific that the features cannot explain
  (Klout's other networks, who joined Empire Avenue, who PeerIndex never scored) is drawn
  from a hash of the id, so a person gets the same score in every sample they appear in.
- ``reference``: the crowd a vendor compares everyone with ("relative to the population",
  "the top account is 1000"). Default: the packaged 1,569 real accounts, in
  ``population.FEATURE_NAMES`` column order. Because the crowd is fixed, adding or removing
  people from a sample never moves anyone else's score.

The functions read the features through ``log1p``: all of them are heavy-tailed (followers
run from 16 to 37 million), and Klout and Kred both described scales on which each step up
is harder than the last.

Why they disagree, in one line each: **Klout** adds posting volume and mentions sent to the
reactions you get (an activity meter, in part); **PeerIndex** ranks network position and
reactions first and counts followers only as far as they react; **Kred** counts points for
reactions and new follows, with a bonus for big audiences; **Empire Avenue** weighs how much
you post and engage most of all, and only knows the people who joined it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from adapters.sandbox._kernels import (
    BoolArray,
    Columns,
    FloatArray,
    check_version,
    id_normal,
    id_uniform,
    reference_columns,
    standing,
)
from adapters.sandbox.population import RATE_FLOOR


@dataclass(frozen=True, eq=False)
class VendorScores:
    """One vendor's scores for a population, row for row.

    ``values`` and every component are NaN where ``known`` is False: the vendor has no score
    for that person (a coverage gap, never a zero).
    """

    values: FloatArray
    components: dict[str, FloatArray]
    known: BoolArray


class Formula(Protocol):
    def __call__(
        self,
        features: FloatArray,
        feature_names: Sequence[str],
        ids: Sequence[str],
        *,
        version: int = 1,
        reference: FloatArray | None = None,
    ) -> VendorScores: ...


def _scores(values: FloatArray, components: dict[str, FloatArray], known: BoolArray) -> VendorScores:
    def hide(array: FloatArray) -> FloatArray:
        return np.where(known, array, np.nan)

    return VendorScores(
        values=hide(values),
        components={name: hide(array) for name, array in components.items()},
        known=known,
    )


def _check_ids(ids: Sequence[str], cols: Columns) -> None:
    if len(ids) != len(cols):
        raise ValueError(f"got {len(ids)} ids for {len(cols)} rows of features")


# --------------------------------------------------------------------------------------- Klout

KLOUT_VERSIONS = (1, 2)
#: Person-specific spread standing in for the networks we cannot see (Facebook, LinkedIn...).
KLOUT_OTHER_NETWORKS_NOISE = 0.35
#: (weight of true_reach, amplification, network) and (curve centre, curve width) per version.
_KLOUT_WEIGHTS = {1: (0.4, 0.4, 0.2), 2: (0.45, 0.3, 0.25)}
_KLOUT_CURVE = {1: (1.4, 1.3), 2: (2.1, 1.1)}


def _klout_parts(cols: Columns, crowd: Columns) -> dict[str, FloatArray]:
    def z(name: str) -> FloatArray:
        return cols.z(name, crowd)

    return {
        "true_reach": 0.15 * z("follower_count") + 0.45 * z("mentions_received")
        + 0.4 * z("mentions_sent"),
        "amplification": 0.5 * z("retweets_received") + 0.5 * z("posts"),
        "network": 0.5 * z("listed_count") + 0.5 * z("network_feature_3"),
    }


def _klout_raw(parts: dict[str, FloatArray], version: int) -> FloatArray:
    reach, amplification, network = _KLOUT_WEIGHTS[version]
    return np.asarray(
        reach * parts["true_reach"] + amplification * parts["amplification"]
        + network * parts["network"],
        dtype=np.float64,
    )


def klout(
    features: FloatArray,
    feature_names: Sequence[str],
    ids: Sequence[str],
    *,
    version: int = 1,
    reference: FloatArray | None = None,
) -> VendorScores:
    """Klout Score, 1-100 (float): reactions you cause, plus how much you post and talk.

    Follows Klout's published inputs (notes §6.1): retweets, mentions and list memberships
    count, followers are "weighted low", and the total is squeezed onto 1-100 along an
    S-shaped curve whose top is steep (most people land at 10-50, celebrities at 80+). Each
    feature is first put on a common footing (how far above the typical account it is, on a
    log scale), then combined in three parts that carry Klout's 2011 names:

    - ``true_reach`` (40%): how many people engage with you: mentions you receive, a little
      of your follower count, and the conversations you start (mentions you send).
    - ``amplification`` (40%): how far your posts travel: retweets received *and your
      posting volume* (more posts, more chances to be retweeted).
    - ``network`` (20%): how influential that audience is: list memberships and a network
      statistic.

    In all, reactions received weigh about 38%, your own activity (posts, mentions sent)
    36%, lists and network 20%, followers 6%. Because activity is in the recipe, the score
    rises with sheer posting, as users complained it did. Klout also scored networks we
    cannot see (Facebook, LinkedIn ...); a small, fixed, person-specific offset stands in
    for them. Components are shown 0-100 as the person's standing in the crowd.

    ``version=2`` is the late-2011 recalibration: a little less weight on activity, more on
    network, and a harsher curve. Most people lose 10-20 points overnight while their order
    barely moves ("60 is the new 80").
    """
    check_version("klout", version, KLOUT_VERSIONS)
    cols = Columns(features, feature_names)
    _check_ids(ids, cols)
    crowd = reference_columns(reference)
    ref_parts = _klout_parts(crowd, crowd)
    ref_raw = _klout_raw(ref_parts, version)
    parts = _klout_parts(cols, crowd)
    raw = _klout_raw(parts, version) + KLOUT_OTHER_NETWORKS_NOISE * id_normal(ids, "klout")
    z = (raw - np.median(ref_raw)) / np.std(ref_raw)
    centre, width = _KLOUT_CURVE[version]
    values = 1.0 + 99.0 / (1.0 + np.exp(-(z - centre) / width))
    components = {name: standing(part, ref_parts[name]) for name, part in parts.items()}
    return _scores(values, components, np.ones(len(cols), dtype=np.bool_))


# ----------------------------------------------------------------------------------- PeerIndex

PEERINDEX_VERSIONS = (1,)
#: How the three components (each 0-100) are combined; PeerIndex never published this.
PEERINDEX_WEIGHTS = {"authority": 0.5, "audience": 0.35, "activity": 0.15}
#: Above 1, high overall scores are rarer than low ones (a standing of 50 becomes 29).
PEERINDEX_SKEW = 1.8
#: People below this activity standing may be unscored ...
PEERINDEX_LOW_ACTIVITY = 35.0
#: ... and this share of them is (fixed per person).
PEERINDEX_UNSCORED_SHARE = 0.6


def _peerindex_parts(cols: Columns, crowd: Columns) -> dict[str, FloatArray]:
    def z(name: str) -> FloatArray:
        return cols.z(name, crowd)

    reactions = cols.raw("retweets_received") + cols.raw("mentions_received")
    return {
        "authority": 0.15 * z("retweets_received") + 0.05 * z("mentions_received")
        + 0.4 * z("network_feature_2") + 0.4 * z("network_feature_3"),
        "audience": cols.log("follower_count")
        * np.log1p(reactions / np.maximum(cols.raw("posts"), RATE_FLOOR)),
        "activity": z("posts") + 0.5 * z("retweets_sent"),
    }


def peerindex(
    features: FloatArray,
    feature_names: Sequence[str],
    ids: Sequence[str],
    *,
    version: int = 1,
    reference: FloatArray | None = None,
) -> VendorScores:
    """PeerIndex, 0-100 (integer): authority first, then receptive audience, then activity.

    Follows PeerIndex's published explanation (notes §6.3): three components, each a standing
    0-100 relative to everyone else:

    - ``authority`` (50%): trust, as shown by where you sit in the network of who passes on
      whose content (80%: the network statistics PeerIndex computed, its PageRank-like
      "resonance") and by the retweets and mentions you receive (20%).
    - ``audience`` (35%): the *receptive* audience, not the follower count: followers (on a
      log scale) times how many reactions each of your posts gets. A big account nobody
      answers has a small audience, and posting more without more answers shrinks it.
    - ``activity`` (15%): how much you post and share, relative to everyone.

    PeerIndex never published how it combined them; here the weighted sum is ranked against
    the crowd again and skewed so that high scores are rare (a middle rank gives about 29).

    Many people had no PeerIndex at all. Here a fixed share (60%) of the low-activity people
    (the lowest 35% by activity) are "not scored"; which ones is fixed per person.
    """
    check_version("peerindex", version, PEERINDEX_VERSIONS)
    cols = Columns(features, feature_names)
    _check_ids(ids, cols)
    crowd = reference_columns(reference)
    ref_parts = _peerindex_parts(crowd, crowd)
    parts = _peerindex_parts(cols, crowd)
    components = {name: standing(part, ref_parts[name]) for name, part in parts.items()}
    ref_components = {name: standing(part, part) for name, part in ref_parts.items()}

    def combine(comps: dict[str, FloatArray]) -> FloatArray:
        return np.asarray(sum(PEERINDEX_WEIGHTS[name] * comps[name] for name in PEERINDEX_WEIGHTS))

    overall = standing(combine(components), combine(ref_components))
    values = np.maximum(np.rint(100.0 * (overall / 100.0) ** PEERINDEX_SKEW), 1.0)
    low_activity = components["activity"] < PEERINDEX_LOW_ACTIVITY
    known = ~(low_activity & (id_uniform(ids, "peerindex") < PEERINDEX_UNSCORED_SHARE))
    return _scores(values, {name: np.rint(c) for name, c in components.items()}, known)


# ---------------------------------------------------------------------------------------- Kred

KRED_VERSIONS = (1,)
#: Share of people Kred does not know (fixed per person).
KRED_UNKNOWN_SHARE = 0.04
#: Days of sending behind the cumulative outreach points.
KRED_OUTREACH_DAYS = 90
#: Points to reach outreach level 1; each next level costs this factor more (100, 270, ...).
_KRED_LEVEL_ONE = 100.0
_KRED_LEVEL_GROWTH = 1.7
#: Below 1, the curve from points to score flattens near the top (each step costs more).
_KRED_CURVE_POWER = 0.6


def _kred_points(cols: Columns) -> FloatArray:
    followers = cols.raw("follower_count")
    reactions = cols.raw("retweets_received") + cols.raw("mentions_received")
    big_audience_bonus = 1.0 + 0.5 * np.log10(1.0 + followers / 10_000.0)
    new_follows = 0.001 * followers
    return np.asarray(10.0 * reactions * big_audience_bonus + 10.0 * new_follows, dtype=np.float64)


def outreach_level(points: FloatArray) -> FloatArray:
    """Kred outreach level for cumulative outreach points: level 1 at 100, 2 at 270, ...

    >>> outreach_level(np.array([0.0, 99.0, 100.0, 269.0, 270.0])).tolist()
    [0.0, 0.0, 1.0, 1.0, 2.0]
    """
    growth = _KRED_LEVEL_GROWTH
    # threshold of level k is 100 * (1.7**k - 1) / 0.7; invert it, with a hair of slack for
    # points that sit exactly on a threshold
    level = np.log1p(points * (growth - 1.0) / _KRED_LEVEL_ONE) / np.log(growth)
    return np.asarray(np.floor(level + 1e-9), dtype=np.float64)


def kred(
    features: FloatArray,
    feature_names: Sequence[str],
    ids: Sequence[str],
    *,
    version: int = 1,
    reference: FloatArray | None = None,
) -> VendorScores:
    """Kred Influence, 1-1000 (integer), with the Outreach level as a component.

    Follows Kred's published rules (notes §6.2), the most transparent of the four:

    - Influence points: 10 points for every retweet or mention you receive, with a bonus
      that grows with your audience (Kred gave more points when the person acting had over
      10,000 followers, and big accounts are answered by big accounts), plus 10 points per
      new follower (taken as 0.1% of your followers).
    - Points become a score relative to the best account: the top of the crowd is 1000 and
      everyone else is placed on a log scale below it, with a curve that gets steeper near
      the top (more points needed per step).
    - ``outreach``: what you give, not what you get: 10 points for each mention and retweet
      you send, over a 90-day window, accumulated into levels (level 1 at 100 points, level
      2 at 270, each next level 1.7 times harder). Reading and posting alone earn nothing.

    A few people (4%, fixed per person) are unknown to Kred.
    """
    check_version("kred", version, KRED_VERSIONS)
    cols = Columns(features, feature_names)
    _check_ids(ids, cols)
    top = float(np.max(_kred_points(reference_columns(reference))))
    share = np.clip(np.log1p(_kred_points(cols)) / np.log1p(top), 0.0, 1.0)
    values = np.clip(np.rint(1.0 + 999.0 * share**_KRED_CURVE_POWER), 1.0, 1000.0)
    sent = cols.raw("mentions_sent") + cols.raw("retweets_sent")
    outreach = outreach_level(10.0 * sent * KRED_OUTREACH_DAYS)
    known = id_uniform(ids, "kred") >= KRED_UNKNOWN_SHARE
    return _scores(values, {"outreach": outreach}, known)


# ------------------------------------------------------------------------------- Empire Avenue

EMPIREAVENUE_VERSIONS = (1,)
#: (activity, audience, interaction) weights of the network score.
_EA_WEIGHTS = (0.5, 0.2, 0.3)
#: Share price at network score 0 and 100, before trading noise.
_EA_PRICE_FLOOR, _EA_PRICE_AT_100 = 1.0, 100.0
#: Spread of the person-specific trading effect (others buying your shares), on a log scale.
EMPIREAVENUE_TRADING_NOISE = 0.5


def _ea_parts(cols: Columns) -> dict[str, FloatArray]:
    followers, following = cols.log("follower_count"), cols.log("following_count")
    return {
        "activity": cols.log("posts") + cols.log("mentions_sent") + 0.5 * cols.log("retweets_sent"),
        # following far more people than follow you back looks like follow-back gaming
        "audience": followers - 0.5 * np.maximum(following - followers, 0.0),
        "interaction": cols.log("mentions_received") + cols.log("retweets_received"),
    }


def empireavenue(
    features: FloatArray,
    feature_names: Sequence[str],
    ids: Sequence[str],
    *,
    version: int = 1,
    reference: FloatArray | None = None,
) -> VendorScores:
    """Empire Avenue share price in "eaves" (unbounded, 2 decimals) and its ``eav_score``.

    Follows what Empire Avenue disclosed (notes §6.4): a network score built from Activity
    (how often you post and engage), Audience (how many receive it, with follow-back gaming
    discounted) and Interaction (reactions), which makes up most of the share price.

    - ``eav_score`` (soft 0-100): 50% activity (posts, mentions and retweets sent), 20%
      audience (followers, less a penalty for following far more people than follow you),
      30% interaction (mentions and retweets received), each as a standing in the crowd.
      Activity weighs most: EA was a game that paid dividends for being active.
    - Share price: rises exponentially with the network score (1 eave at 0, 100 eaves at
      100), times a fixed, person-specific trading effect (others buying your shares), so
      two people with the same network score can trade at quite different prices.

    Empire Avenue was niche: only people who joined it have a price. The more active you
    are, the likelier you joined (from 15% of the least active to 75% of the most); who
    joined is fixed per person. In all, a bit under half are covered.
    """
    check_version("empireavenue", version, EMPIREAVENUE_VERSIONS)
    cols = Columns(features, feature_names)
    _check_ids(ids, cols)
    ref_parts = _ea_parts(reference_columns(reference))
    parts = {name: standing(part, ref_parts[name]) for name, part in _ea_parts(cols).items()}
    weights = dict(zip(("activity", "audience", "interaction"), _EA_WEIGHTS, strict=True))
    eav_score = np.asarray(sum(weights[name] * parts[name] for name in weights))
    log_price = np.log(_EA_PRICE_FLOOR) + eav_score / 100.0 * np.log(_EA_PRICE_AT_100 / _EA_PRICE_FLOOR)
    trading = EMPIREAVENUE_TRADING_NOISE * id_normal(ids, "empireavenue")
    price = np.maximum(np.round(np.exp(log_price + trading), 2), 1.0)
    joined = id_uniform(ids, "empireavenue/joined") < 0.15 + 0.6 * parts["activity"] / 100.0
    return _scores(price, {"eav_score": np.round(eav_score, 3)}, joined)

