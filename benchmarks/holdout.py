"""Benchmark: does the randomised holdout's interval cover the planted effect of contact?
(issue #27 §2)

Usage: python -m benchmarks.holdout [--seeds 200] [--customers 2000] [--share 0.1]

Each seed draws a pull: customers with a pre-contact risk score, banded as cxml bands them,
a planted effect of contact on staying that varies by segment (most are helped, one segment
is made *more* likely to leave by a call), outcomes drawn from the planted probabilities;
``cxml.experiments`` assigns the arms (stratified by band) and reads the effect. The target
is the pull's own average planted effect (the mean over its customers of P(stay | contact) −
P(stay | control)). Reported: how often each 95 % interval covers it (goal 90–98 %), the
mean widths (the adjusted one narrower), bias, and the minimum detectable effect.
"""

from __future__ import annotations

import argparse

import numpy as np

from cxml.experiments import CONTACT, assign, effect_of_contact


def planted_pull(rng: np.random.Generator, customers: int) -> dict[str, np.ndarray]:
    """A pull as the demo world plants it: risk, band, segment and the effect of a call."""
    risk = np.clip(rng.beta(2.0, 6.0, customers), 0.01, 0.95)
    bands = np.where(risk >= 0.4, "high", np.where(risk >= 0.2, "medium", "low")).astype(object)
    segment = rng.choice(["consumer", "small_business", "enterprise"], customers, p=[0.6, 0.3, 0.1])
    # Contact cuts the churn probability by a share that depends on the segment; enterprise
    # customers, annoyed by retention calls, are pushed the other way.
    lift = np.select(
        [segment == "consumer", segment == "small_business"], [0.30, 0.15], default=-0.20
    )
    stay_control = 1 - risk
    stay_contact = np.clip(1 - risk * (1 - lift), 0.0, 1.0)
    return {
        "risk": risk,
        "bands": bands,
        "stay_control": stay_control,
        "stay_contact": stay_contact,
    }


def one_seed(seed: int, customers: int, share: float) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    pull = planted_pull(rng, customers)
    arms = assign(pull["bands"], share, seed)
    contact = arms == CONTACT
    p_stay = np.where(contact, pull["stay_contact"], pull["stay_control"])
    retained = (rng.random(customers) < p_stay).astype(float)
    effect = effect_of_contact(retained, arms, pull["bands"], pull["risk"])
    truth = float((pull["stay_contact"] - pull["stay_control"]).mean())
    return {
        "truth": truth,
        "effect": effect.effect,
        "adjusted": effect.adjusted,
        "covered": float(effect.low <= truth <= effect.high),
        "adjusted_covered": float(effect.adjusted_low <= truth <= effect.adjusted_high),
        "width": effect.width,
        "adjusted_width": effect.adjusted_width,
        "mde": effect.mde,
    }


def run(seeds: int, customers: int, share: float) -> dict[str, float]:
    rows = [one_seed(seed, customers, share) for seed in range(seeds)]
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]} | {
        "bias": float(np.mean([r["effect"] - r["truth"] for r in rows])),
        "adjusted_bias": float(np.mean([r["adjusted"] - r["truth"] for r in rows])),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--share", type=float, default=0.1)
    args = parser.parse_args()
    for customers, share in ((args.customers, args.share), (args.customers, 0.3), (500, 0.1)):
        result = run(args.seeds, customers, share)
        print(
            f"| {customers:,} | {share:.0%} | {args.seeds} | {result['truth']:+.4f} "
            f"| {result['covered']:.1%} | {result['adjusted_covered']:.1%} "
            f"| {result['width']:.4f} | {result['adjusted_width']:.4f} "
            f"| {result['bias']:+.4f} | {result['adjusted_bias']:+.4f} | {result['mde']:.4f} |"
        )


if __name__ == "__main__":
    main()
