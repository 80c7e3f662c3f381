"""The randomised holdout's arithmetic: assign customers to contact or control, stratified by
risk band, and read the effect of contact on retention from the comparison.

Pure functions over arrays (no store, no clock): the pull's job assigns, the impact report
reads. The estimate is intention-to-treat (the arm a customer was *assigned*, whether or not
the call happened): what the retention team's policy does, not what one call does.

- **Unadjusted**: retention of contact minus retention of control, stratified by band (each
  band's difference weighted by its share of the pull), with a normal 95 % interval.
- **Adjusted** (CUPED, Deng et al. 2013): each outcome minus θ·(pre-contact score − its mean),
  θ the pooled regression slope of the outcome on the score within bands. The score was fixed
  before assignment, so the estimate stays unbiased and its interval narrows by the share of
  the outcome's variance the score explains.
- **Minimum detectable effect** at the current size (80 % power, two-sided 5 %): what a pull
  this big can see at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
Z80 = 0.8416212335729143
CONTACT = "contact"
CONTROL = "control"


def assign(bands: np.ndarray, share: float, seed: int, controls: int | None = None) -> np.ndarray:
    """Per customer, ``contact`` or ``control``: within each band its quota of controls chosen
    at random (complete randomisation inside strata), reproducible from ``seed``. Quotas are
    ``share`` of each band, rounded so that they add up to ``controls`` when given (largest
    remainders), else to round(share · n). ``share`` 0 gives everyone contact."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"holdout share {share}: expected 0 <= share < 1")
    rng = np.random.default_rng(seed)
    arms = np.full(len(bands), CONTACT, dtype=object)
    names = sorted(set(bands.tolist()))
    sizes = np.array([(bands == b).sum() for b in names])
    wanted = share * sizes
    total = round(share * len(bands)) if controls is None else int(controls)
    quotas = np.floor(wanted).astype(int)
    order = np.argsort(-(wanted - quotas), kind="stable")
    for i in order[: max(total - int(quotas.sum()), 0)]:
        quotas[i] += 1
    for band, quota in zip(names, quotas, strict=True):
        members = np.flatnonzero(bands == band)
        if quota:
            arms[rng.choice(members, size=min(int(quota), len(members)), replace=False)] = CONTROL
    return arms


@dataclass(frozen=True)
class Effect:
    """Retention of contact minus control (percentage points as a fraction: 0.03 = +3 pts),
    unadjusted and CUPED-adjusted, each with its 95 % interval; sizes and the minimum
    detectable effect."""

    contact: int
    control: int
    retained_contact: float
    retained_control: float
    effect: float
    low: float
    high: float
    adjusted: float
    adjusted_low: float
    adjusted_high: float
    mde: float

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def adjusted_width(self) -> float:
        return self.adjusted_high - self.adjusted_low


def _floor(n: int) -> float:
    """The least variance an arm of ``n`` is read with: that of one event in n + 1, so an arm
    where everybody stayed (or left) does not make the difference look exact."""
    p = 1.0 / (n + 1)
    return p * (1.0 - p)


def _stratified_difference(
    y: np.ndarray, treated: np.ndarray, bands: np.ndarray
) -> tuple[float, float]:
    """Band-weighted difference of means and its standard error (Neyman, per band)."""
    total = len(y)
    effect, variance = 0.0, 0.0
    for band in sorted(set(bands.tolist())):
        inside = bands == band
        t, c = y[inside & treated], y[inside & ~treated]
        if len(t) == 0 or len(c) == 0:
            continue  # a band with one arm only says nothing about the difference
        weight = inside.sum() / total
        effect += weight * (t.mean() - c.mean())
        var_t = max(t.var(ddof=1) if len(t) > 1 else 0.0, _floor(len(t)))
        var_c = max(c.var(ddof=1) if len(c) > 1 else 0.0, _floor(len(c)))
        variance += weight**2 * (var_t / len(t) + var_c / len(c))
    covered = sum(
        (bands == b).sum()
        for b in set(bands.tolist())
        if (treated & (bands == b)).any() and (~treated & (bands == b)).any()
    )
    if covered and covered < total:  # renormalise to the bands that have both arms
        scale = total / covered
        effect, variance = effect * scale, variance * scale**2
    return float(effect), float(np.sqrt(variance))


def effect_of_contact(
    retained: np.ndarray, arms: np.ndarray, bands: np.ndarray, pre_score: np.ndarray
) -> Effect:
    """The randomised comparison: ``retained`` 1/0 per customer at the horizon, ``arms`` as
    ``assign`` made them, ``bands`` the strata, ``pre_score`` the risk score at the pull."""
    y = np.asarray(retained, dtype=float)
    treated = np.asarray(arms) == CONTACT
    bands = np.asarray(bands, dtype=object)
    x = np.asarray(pre_score, dtype=float)
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    if n_t == 0 or n_c == 0:
        raise ValueError("both arms need customers to compare")
    effect, se = _stratified_difference(y, treated, bands)
    # CUPED: one slope, pooled within bands (outcome and score centred per band).
    xc, yc = x.copy(), y.copy()
    for band in set(bands.tolist()):
        inside = bands == band
        xc[inside] -= x[inside].mean()
        yc[inside] -= y[inside].mean()
    theta = float((xc * yc).sum() / (xc * xc).sum()) if (xc * xc).sum() > 0 else 0.0
    adjusted, adjusted_se = _stratified_difference(y - theta * xc, treated, bands)
    p = float(y.mean())
    # Floored at one event among all: nobody leaving in a small pull does not make it exact.
    mde = (Z95 + Z80) * float(np.sqrt(max(p * (1 - p), 1 / (n_t + n_c)) * (1 / n_t + 1 / n_c)))
    return Effect(
        contact=n_t,
        control=n_c,
        retained_contact=float(y[treated].mean()),
        retained_control=float(y[~treated].mean()),
        effect=effect,
        low=effect - Z95 * se,
        high=effect + Z95 * se,
        adjusted=adjusted,
        adjusted_low=adjusted - Z95 * adjusted_se,
        adjusted_high=adjusted + Z95 * adjusted_se,
        mde=mde,
    )
