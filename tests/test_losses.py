"""Losses against hand-computed values on tiny tensors, and their minimisers."""

from __future__ import annotations

import math

import pytest
import torch

from distilface.train import losses

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


def test_ckd_with_queue_mask_mse_and_learnable_temperature_hand_value():
    # queries Q (unit), batch keys K -> cos rows [1, 1/sqrt2], [0, 1/sqrt2];
    # queue: two teacher vectors, corpus rows 7 and 3: q0 = (0, 2), q1 = (-1, 0)
    queue = torch.tensor([[0.0, 2.0], [-1.0, 0.0]])
    same_row = torch.tensor([[False, False], [True, False]])  # query 1 IS corpus row 7
    scale = losses.LogitScale(0.5, learnable=True)
    tau = scale()
    assert tau.item() == pytest.approx(0.5)
    row0 = [1 / 0.5, R2, 0.0, -1 / 0.5]  # cos with K0, K1, queue0, queue1 over tau
    row1 = [0.0, R2, 0.0]  # queue0 masked out (its own sentence); cos(q1 query, queue1) = 0
    expected = (_ce(row0, 0) + _ce(row1, 1)) / 2
    got = losses.ckd_loss(Q, K, tau, queue=queue, same_row=same_row)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    got.backward()
    assert scale.log_scale.grad is not None and scale.log_scale.grad.item() != 0.0
    # the optional MSE term is on the projected, un-normalised vectors (DistilCSE --mse 1)
    mse = ((Q - K) ** 2).mean().item()
    with_mse = losses.ckd_loss(Q, K, 0.5, queue=queue, same_row=same_row, mse_weight=2.0)
    assert with_mse.item() == pytest.approx(expected + 2.0 * mse, rel=1e-6)
    assert losses.LogitScale(0.5, learnable=False)().item() == pytest.approx(0.5)
    assert not list(losses.LogitScale(0.5, learnable=False).parameters())


def test_teacher_queue_is_fifo_newest_first_and_masks_own_rows():
    q = losses.TeacherQueue(5)
    assert len(q) == 0
    q.push(torch.full((3, 2), 1.0), torch.tensor([0, 1, 2]))
    q.push(torch.full((3, 2), 2.0), torch.tensor([3, 4, 5]))
    assert q.ids.tolist() == [3, 4, 5, 0, 1]  # newest batch first, oldest rows dropped
    assert q.vectors[:, 0].tolist() == [2.0, 2.0, 2.0, 1.0, 1.0]
    hit = q.same_row(torch.tensor([1, 9]))
    assert hit.tolist() == [[False, False, False, False, True], [False] * 5]
    assert q.masked == 1
    restored = losses.TeacherQueue(0)
    restored.load_state_dict(q.state_dict())
    assert restored.ids.tolist() == q.ids.tolist() and restored.masked == 1
    off = losses.TeacherQueue(0)
    off.push(torch.ones(2, 2), torch.tensor([0, 1]))
    assert len(off) == 0


def test_kd_on_raw_targets_converges():
    """A toy KD: a linear student regresses raw teacher vectors (norm ~3, like the bundled
    mpnet's mean-pooled output) through a trained projection; the loss must fall >= 10x."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 16, generator=g)
    teacher = (x @ torch.randn(16, 32, generator=g)) * 0.5 + 1.0
    student = torch.nn.Linear(16, 16)
    proj = torch.nn.Linear(16, 32)
    opt = torch.optim.Adam([*student.parameters(), *proj.parameters()], lr=1e-2)
    first = None
    for _ in range(400):
        loss = losses.kd_mse_loss(student(x), teacher, proj)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 10
