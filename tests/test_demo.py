from __future__ import annotations

from datetime import date

import pandas as pd

from cxml.contract import CHANNELS, normalize_channel
from cxml.demo import World, generate


def test_the_world_is_deterministic_under_a_seed() -> None:
    a = generate(80, seed=1, end=date(2025, 1, 1))
    b = generate(80, seed=1, end=date(2025, 1, 1))
    c = generate(80, seed=2, end=date(2025, 1, 1))
    pd.testing.assert_frame_equal(a.feedback, b.feedback)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    assert not a.feedback["text"].equals(c.feedback["text"])


def test_the_world_speaks_english_and_japanese_on_many_channels(world: World) -> None:
    languages = world.feedback_truth["language"].value_counts()
    assert languages["en"] > 100 and languages["ja"] > 50
    channels, _ = normalize_channel(world.feedback["channel"])
    assert set(channels) <= set(CHANNELS)
    assert len(set(channels)) >= 8
    score_only = world.feedback["text"].eq("") & world.feedback["nps"].notna()
    assert score_only.sum() > 0


def test_scores_follow_what_customers_write(world: World) -> None:
    frame = world.feedback.join(world.feedback_truth[["sentiment"]])
    mean_nps = frame.dropna(subset=["nps"]).groupby("sentiment")["nps"].mean()
    assert mean_nps["positive"] > mean_nps["neutral"] > mean_nps["negative"]


def test_complaints_drive_churn() -> None:
    world = generate(1500, seed=4, end=date(2025, 1, 1))
    truth = world.customers_truth
    with_pain = truth[truth["pains"] != ""]["churned"].mean()
    without = truth[truth["pains"] == ""]["churned"].mean()
    assert with_pain > without * 1.3


def test_churned_customers_leave_after_they_signed_up(world: World) -> None:
    churned = world.customers[world.customers["churn_date"] != ""]
    assert (pd.to_datetime(churned["churn_date"]) >= pd.to_datetime(churned["signup_date"])).all()
    last_contact = (
        pd.to_datetime(world.feedback["created_at"]).groupby(world.feedback["customer_id"]).max()
    )
    churn = pd.to_datetime(churned.set_index("customer_id")["churn_date"])
    assert (
        last_contact.reindex(churn.index).dropna()
        <= churn[last_contact.reindex(churn.index).notna()] + pd.Timedelta(days=1)
    ).all()
