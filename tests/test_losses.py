"""Losses against hand-computed values on tiny tensors, and their minimisers."""

from __future__ import annotations

import math

import pytest
import torch

from distilface import losses

R2 = math.sqrt(2.0)


def _ce(logits: list[float], target: int) -> float:
    """-log softmax(logits)[target], by hand."""
    return -logits[target] + math.log(sum(math.exp(v) for v in logits))


Q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
K = torch.tensor([[2.0, 0.0], [1.0, 1.0]])  # norms differ: the loss must use cosine
H = torch.tensor([[0.0, 3.0], [1.0, 0.0]])


def test_info_nce_matches_hand_value():
    # cos: q0.k0 = 1, q0.k1 = 1/sqrt2, q1.k0 = 0, q1.k1 = 1/sqrt2; / tau = 0.5
    expected = (_ce([2.0, R2], 0) + _ce([0.0, R2], 1)) / 2
    got = losses.info_nce(Q, K, temperature=0.5)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert losses.simcse_unsup_loss(Q, K, 0.5).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("w", [0.0, 0.7])
def test_hard_negatives_and_simcse_weight(w):
    # extra columns cos(q_i, h_j)/tau: q0.h0 = 0, q0.h1 = 1; q1.h0 = 1, q1.h1 = 0
    # SimCSE adds w to the logit of each query's own hard negative (column B + i)
    row0 = [2.0, R2, 0.0 + w, 2.0]
    row1 = [0.0, R2, 2.0, 0.0 + w]
    expected = (_ce(row0, 0) + _ce(row1, 1)) / 2
    got = losses.simcse_sup_loss(Q, K, H, temperature=0.5, hard_negative_weight=w)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_kd_mse_hand_value_and_projection():
    s = torch.tensor([[1.0, 2.0]])
    t = torch.tensor([[0.0, 0.0]])
    assert losses.kd_mse_loss(s, t).item() == pytest.approx((1 + 4) / 2)
    proj = torch.nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        proj.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    t3 = torch.tensor([[1.0, 0.0, 0.0]])  # W s = (1, 2, 3)
    assert losses.kd_mse_loss(s, t3, proj).item() == pytest.approx((0 + 4 + 9) / 3)
    with pytest.raises(ValueError, match="projection"):
        losses.kd_mse_loss(s, t3)


def test_ckd_is_info_nce_with_teacher_keys():
    expected = (_ce([2.0, R2], 0) + _ce([0.0, R2], 1)) / 2
    assert losses.ckd_loss(Q, K, 0.5).item() == pytest.approx(expected, rel=1e-6)


def test_ckd_and_info_nce_minimised_at_student_equals_teacher():
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(16, 8, generator=g)
    at_teacher = losses.ckd_loss(teacher.clone(), teacher, 0.05).item()
    for scale in (0.3, 1.0):
        perturbed = teacher + scale * torch.randn(16, 8, generator=g)
        assert losses.ckd_loss(perturbed, teacher, 0.05).item() > at_teacher
    assert losses.kd_mse_loss(teacher.clone(), teacher).item() == 0.0
    # the gradient pulls a perturbed student toward the teacher
    student = (teacher + 0.5 * torch.randn(16, 8, generator=g)).requires_grad_()
    loss = losses.ckd_loss(student, teacher, 0.05)
    loss.backward()
    with torch.no_grad():
        stepped = student - 0.05 * student.grad
    assert losses.ckd_loss(stepped, teacher, 0.05).item() < loss.item()


def test_teacher_gets_no_gradient_and_bad_input_errors():
    t = torch.randn(4, 3, requires_grad=True)
    losses.ckd_loss(torch.randn(4, 3, requires_grad=True), t, 0.1).backward()
    assert t.grad is None
    with pytest.raises(ValueError, match="temperature"):
        losses.info_nce(Q, K, 0.0)
    with pytest.raises(ValueError, match="differ"):
        losses.info_nce(Q, K[:1], 0.1)
