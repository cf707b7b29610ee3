from avcap.train.recipes.mrdpo import round_summary


def test_round_summary_names_pairs_loss_and_outcome():
    trained = {"round": 2, "model": "run/round_2/model", "train": {"first_step": {"dpo_loss": 0.693147}},
               "pairs": {"captions_scored": 8, "mean_total_error": 0.5, "pairs": 3}, "eval": {"total": 0.25}}
    assert round_summary(trained) == ("round 2: 8 captions scored (mean total error 50.0%), 3 pairs kept, "
                                      "first-step DPO loss 0.6931, held-out total error 25.0%; model -> run/round_2/model")
    skipped = {"round": 1, "model": "m", "skipped": "no pair passed the round's thresholds",
               "pairs": {"captions_scored": 4, "mean_total_error": 1.0, "pairs": 0}}
    assert round_summary(skipped).endswith("0 pairs kept; no pair passed the round's thresholds")
