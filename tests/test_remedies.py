"""Imbalance remedies: each loss against a hand computation, balanced batches, seeded augment."""

import math
import warnings

import numpy as np
import pytest
import torch

from blockbench import remedies, training
from blockbench.params import run_config, split_config
from blockbench.split import make_split

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 1.0, 1.0], [-0.5, 2.5, 0.0]])
Y = torch.tensor([0, 2, 1, 0])
COUNTS = torch.tensor([100, 10, 40])


def hand_log_softmax(row):
    z = [math.exp(v) for v in row]
    return [math.log(v / sum(z)) for v in z]


def hand_ce(logits, y, weights=None):
    terms = [
        (-(hand_log_softmax(row)[c]), 1.0 if weights is None else weights[c])
        for row, c in zip(logits.tolist(), y.tolist())
    ]
    return sum(t * w for t, w in terms) / sum(w for _, w in terms)


def loss(cfg):
    return float(remedies.loss_function({"loss_input": "logits", **cfg}, COUNTS)(LOGITS, Y))


def effective_weights(counts, beta):
    """Cui et al.'s (1 - beta) / (1 - beta^n), scaled to average 1, by hand."""
    w = [(1 - beta) / (1 - beta**n) for n in counts.tolist()]
    return [x * len(w) / sum(w) for x in w]


def prior_shifted_logits():
    """LOGITS + log(class frequency of COUNTS), by hand."""
    prior = [n / sum(COUNTS.tolist()) for n in COUNTS.tolist()]
    return torch.tensor([[v + math.log(p) for v, p in zip(row, prior)] for row in LOGITS.tolist()])


def test_none_is_plain_cross_entropy():
    assert loss({"remedy": "none"}) == pytest.approx(hand_ce(LOGITS, Y))


def test_focal_with_gamma_zero_is_cross_entropy_and_gamma_two_matches_the_formula():
    assert loss({"remedy": "focal", "focal_gamma": 0.0}) == pytest.approx(hand_ce(LOGITS, Y))
    terms = []
    for row, c in zip(LOGITS.tolist(), Y.tolist()):
        logp = hand_log_softmax(row)[c]
        terms.append(-((1 - math.exp(logp)) ** 2) * logp)
    assert loss({"remedy": "focal", "focal_gamma": 2.0}) == pytest.approx(sum(terms) / len(terms))
    assert loss({"remedy": "focal", "focal_gamma": 2.0}) < hand_ce(
        LOGITS, Y
    )  # easy images count less


def test_logit_adjustment_with_tau_zero_is_cross_entropy_and_tau_one_adds_the_log_prior():
    assert loss({"remedy": "logit_adjust", "logit_tau": 0.0}) == pytest.approx(hand_ce(LOGITS, Y))
    shifted = prior_shifted_logits()
    assert loss({"remedy": "logit_adjust", "logit_tau": 1.0}) == pytest.approx(hand_ce(shifted, Y))


def test_class_weights_inverse_and_effective_match_the_formulas():
    inv = [1 / n for n in COUNTS.tolist()]
    inv = [w * 3 / sum(inv) for w in inv]
    assert remedies.class_weights(COUNTS, "inverse").tolist() == pytest.approx(inv)
    assert loss({"remedy": "class_weights", "class_weights": "inverse"}) == pytest.approx(
        hand_ce(LOGITS, Y, inv)
    )
    beta = 0.99
    eff = effective_weights(COUNTS, beta)
    assert remedies.class_weights(COUNTS, "effective", beta).tolist() == pytest.approx(eff)
    assert loss(
        {"remedy": "class_weights", "class_weights": "effective", "cb_beta": beta}
    ) == pytest.approx(hand_ce(LOGITS, Y, eff))
    # the rare class weighs most; effective weights are milder than inverse ones
    assert eff[1] == max(eff) and eff[1] / eff[0] < inv[1] / inv[0]


def test_oversampled_epoch_is_class_balanced_within_tolerance():
    y = torch.tensor([0] * 900 + [1] * 60 + [2] * 40)
    idx = remedies.balanced_indices(y, 3, torch.Generator().manual_seed(0))
    assert len(idx) == len(y)
    drawn = torch.bincount(y[idx], minlength=3).tolist()
    assert drawn == [334, 333, 333]  # n/K per class, exactly
    # and every batch of an epoch is balanced within sampling tolerance
    for i in range(0, len(idx), 200):
        share = torch.bincount(y[idx[i : i + 200]], minlength=3).double() / 200
        assert (share - 1 / 3).abs().max() < 0.12
    # the rare classes' images are all in use, drawn with replacement
    assert set(idx[y[idx] == 2].tolist()) == set(range(960, 1000))


def test_augmentation_keeps_shapes_dtype_labels_and_is_seeded():
    x = torch.randn(70, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.tensor([0, 1] * 35)
    mask = y == 1
    aug = remedies.make_augmenter(
        {"augment_degrees": 15, "augment_translate": 0.1, "augment_scale": [0.9, 1.1]}, fill=-0.4
    )
    torch.manual_seed(3)
    out = remedies.augment_batch(x, mask, aug)
    torch.manual_seed(3)
    again = remedies.augment_batch(x, mask, aug)
    torch.manual_seed(4)
    other = remedies.augment_batch(x, mask, aug)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, again) and not torch.equal(out, other)
    assert torch.equal(out[~mask], x[~mask])  # only the repeated class is transformed
    assert not torch.equal(out[mask], x[mask])
    # labels: the sampler hands the batch's labels on untouched
    sampler = training.Sampler(True, 2, aug, torch.tensor([False, True]))
    data = training.Tensors(x, y)
    xb, yb = sampler.batch(data, torch.arange(70))
    assert torch.equal(yb, y) and xb.shape == x.shape


def test_repeated_classes_are_those_below_the_balanced_share():
    counts = torch.tensor([900, 60, 40])
    assert remedies.repeated_classes(counts).tolist() == [False, True, True]
    assert remedies.augmented_classes({"augment_scope": "repeated"}, counts).tolist() == [
        False,
        True,
        True,
    ]
    assert remedies.augmented_classes({"augment_scope": "all"}, counts).tolist() == [
        True,
        True,
        True,
    ]


@pytest.mark.parametrize(
    "remedy", ["class_weights", "oversample", "augment", "logit_adjust", "focal"]
)
def test_every_remedy_trains_and_is_recorded(remedy, digits_arrays):
    from conftest import digits_params

    p = digits_params()
    arrays, _ = make_split(digits_arrays, split_config(p, "imbalanced"))
    cfg = {**run_config(p, "c4"), "remedy": remedy, "epochs": 2, "batch_size": 128}
    result = training.train(cfg, arrays, threads=1)
    assert len(result.history) == 2 and np.isfinite([r["train_loss"] for r in result.history]).all()
    assert result.info["remedy"].startswith(remedy)
    # the remedy acts: the same seed without it trains to other weights and another history
    # (a remedy the trainer silently ignored would give the baseline's numbers exactly)
    base = training.train({**cfg, "remedy": "none"}, arrays, threads=1)
    assert [r["train_loss"] for r in result.history] != [r["train_loss"] for r in base.history]
    assert any(
        not torch.equal(a, b)
        for a, b in zip(result.model.state_dict().values(), base.model.state_dict().values())
    )
    assert (
        result.info["train_class_counts"] == np.bincount(arrays["y_train"], minlength=10).tolist()
    )


# ---------------------------------------------- defaults, refusals and devices (issue 23's oracles)
def test_class_weights_defaults_and_refusals():
    counts = torch.tensor([1, 5, 20])
    inv = [1 / n for n in counts.tolist()]
    assert remedies.class_weights(counts).tolist() == pytest.approx([w * 3 / sum(inv) for w in inv])
    assert remedies.class_weights(counts, "effective").tolist() == pytest.approx(
        effective_weights(counts, 0.999)  # the default beta
    )
    with pytest.raises(ValueError) as err:
        remedies.class_weights(torch.tensor([3, 0, 4]))
    assert str(err.value) == "class_weights: every class needs at least one training image"
    with pytest.raises(ValueError) as err:
        remedies.class_weights(counts, "sqrt")
    assert str(err.value) == "class_weights: unknown kind 'sqrt'; use inverse or effective"


def test_losses_default_to_gamma_two_and_tau_one_and_warn_about_nothing():
    focal = [
        -((1 - math.exp(lp)) ** 2) * lp
        for lp in (hand_log_softmax(r)[c] for r, c in zip(LOGITS.tolist(), Y.tolist()))
    ]
    prior = COUNTS.double() / COUNTS.sum()
    shifted = LOGITS + torch.log(prior).float()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. softmax's deprecated implicit dimension
        assert float(remedies.FocalLoss()(LOGITS, Y)) == pytest.approx(sum(focal) / len(focal))
        assert float(remedies.LogitAdjustedLoss(prior)(LOGITS, Y)) == pytest.approx(
            hand_ce(shifted, Y)
        )


def test_the_logit_offset_follows_the_logits_to_their_device():
    lossf = remedies.LogitAdjustedLoss(COUNTS.double() / COUNTS.sum())
    assert lossf(LOGITS.to("meta"), Y.to("meta")).device.type == "meta"


def test_balanced_indices_draw_from_the_given_generator_on_the_labels_device(monkeypatch):
    y = torch.tensor([0] * 50 + [1] * 7 + [2] * 3)
    torch.manual_seed(0)
    a = remedies.balanced_indices(y, 3, torch.Generator().manual_seed(5))
    torch.manual_seed(1)  # the global RNG plays no part
    b = remedies.balanced_indices(y, 3, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    devices = []
    for name in ("randint", "randperm"):
        real = getattr(torch, name)

        def spy(*args, _real=real, **kwargs):
            devices.append(kwargs.get("device"))
            return _real(*args, **kwargs)

        monkeypatch.setattr(torch, name, spy)
    remedies.balanced_indices(y, 3, torch.Generator().manual_seed(5))
    assert devices == [y.device] * 4  # three classes' draws, one permutation


def test_repeated_classes_leave_out_absent_classes_and_the_class_at_the_share():
    # 60 images over the 4 present classes: a share of 15; a class of 1 image is repeated, one of 15
    # (exactly the share) is not, an absent class is neither present nor repeated
    counts = torch.tensor([0, 1, 15, 20, 24])
    assert remedies.repeated_classes(counts).tolist() == [False, True, False, False, False]
    mask = remedies.augmented_classes({}, counts.to("meta"))  # default scope: all
    assert mask.dtype == torch.bool and mask.device.type == "meta" and mask.shape == (5,)
    assert remedies.augmented_classes({}, counts).tolist() == [True] * 5


def test_the_augmenter_defaults_and_its_fill():
    aug = remedies.make_augmenter({}, fill=-0.42)
    assert aug.degrees == [-10.0, 10.0] and aug.translate == (0.1, 0.1)
    assert aug.scale == (0.9, 1.1) and aug.fill == -0.42


def test_augment_batch_draws_once_per_group_and_transforms_every_masked_row():
    calls = []

    def plus_one(chunk):
        calls.append(len(chunk))
        return chunk + 1

    x = torch.zeros(100, 1, 2, 2)
    mask = torch.arange(100) >= 30  # the last 70 rows
    out = remedies.augment_batch(x, mask, plus_one, group=32)
    assert calls == [32, 32, 6]
    assert torch.equal(out[mask], torch.ones(70, 1, 2, 2)) and torch.equal(out[~mask], x[~mask])
    one = torch.zeros(100, dtype=torch.bool)
    one[0] = True
    assert torch.equal(remedies.augment_batch(x, one, plus_one)[0], torch.ones(1, 2, 2))


@pytest.mark.parametrize(
    "cfg, label",
    [
        ({}, "none"),
        ({"remedy": "oversample"}, "oversample"),
        ({"remedy": "class_weights"}, "class_weights (inverse)"),
        (
            {"remedy": "class_weights", "class_weights": "effective", "cb_beta": 0.99},
            "class_weights (effective, beta 0.99)",
        ),
        ({"remedy": "logit_adjust"}, "logit_adjust (tau 1)"),
        ({"remedy": "logit_adjust", "logit_tau": 0.5}, "logit_adjust (tau 0.5)"),
        ({"remedy": "focal"}, "focal (gamma 2)"),
        ({"remedy": "focal", "focal_gamma": 1.5}, "focal (gamma 1.5)"),
        ({"remedy": "augment"}, "augment (all classes, ±10°, shift 0.1, scale [0.9, 1.1])"),
        (
            {
                "remedy": "augment",
                "augment_scope": "repeated",
                "augment_degrees": 15,
                "augment_translate": 0.2,
                "augment_scale": [0.8, 1.2],
            },
            "augment (repeated classes, ±15°, shift 0.2, scale [0.8, 1.2])",
        ),
    ],
    ids=[  # plain ids: mutmut passes node ids on a command line
        "none",
        "oversample",
        "class_weights",
        "class_weights_effective",
        "logit_adjust",
        "logit_adjust_tau",
        "focal",
        "focal_gamma",
        "augment",
        "augment_repeated",
    ],
)
def test_describe_labels_each_remedy_with_its_parameters(cfg, label):
    assert remedies.describe(cfg) == label


def test_softmax_into_the_loss_is_cross_entropy_on_probabilities_and_only_without_a_new_loss():
    """The original study's pipeline (loss_input: softmax): CrossEntropyLoss applied to softmax
    outputs, i.e. a second softmax inside the loss; allowed with the remedies that leave the loss
    alone, refused with those that replace it."""
    probs = torch.softmax(LOGITS, dim=1)
    want = hand_ce(probs, Y)
    for remedy in ({}, {"remedy": "none"}, {"remedy": "oversample"}, {"remedy": "augment"}):
        lossf = remedies.loss_function({"loss_input": "softmax", **remedy}, COUNTS)
        assert float(lossf(LOGITS, Y)) == pytest.approx(want)
    assert want != pytest.approx(hand_ce(LOGITS, Y))  # not the plain loss on logits
    for remedy in ("class_weights", "logit_adjust", "focal"):
        with pytest.raises(ValueError) as err:
            remedies.loss_function({"loss_input": "softmax", "remedy": remedy}, COUNTS)
        assert str(err.value) == f"loss_input softmax cannot be combined with remedy {remedy}"


def test_loss_defaults_beta_0999_and_tau_1():
    assert loss({"remedy": "class_weights", "class_weights": "effective"}) == pytest.approx(
        hand_ce(LOGITS, Y, effective_weights(COUNTS, 0.999))
    )
    assert loss({"remedy": "logit_adjust"}) == pytest.approx(hand_ce(prior_shifted_logits(), Y))
