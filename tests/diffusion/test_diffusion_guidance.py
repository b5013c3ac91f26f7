"""Classifier-free guidance wrapper: one batched forward, exact special cases."""

from __future__ import annotations

import pytest
import torch

from monai_synth.diffusion import classifier_free_guidance, make_schedule, sample_ddim

NULL = 3


class ToyConditionalModel:
    """``eps = x * (label + 1) + t / 1000``; records every call's batch and labels."""

    def __init__(self) -> None:
        self.calls: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        assert x.shape[0] == t.shape[0] == labels.shape[0]
        self.calls.append(labels.clone())
        return x * (labels.to(x.dtype) + 1).reshape(-1, 1, 1, 1) + (t.to(x.dtype) / 1000).reshape(-1, 1, 1, 1)


@pytest.fixture
def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.randn(4, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    return x, torch.full((4,), 500), torch.tensor([0, 1, 2, 0])


def test_scale_one_is_conditional_only(inputs) -> None:  # noqa: ANN001
    x, t, labels = inputs
    model = ToyConditionalModel()
    eps = classifier_free_guidance(model, labels, 1.0, NULL)(x, t)
    torch.testing.assert_close(eps, ToyConditionalModel()(x, t, labels))
    assert len(model.calls) == 1 and torch.equal(model.calls[0], labels)


def test_scale_zero_is_unconditional_only(inputs) -> None:  # noqa: ANN001
    x, t, labels = inputs
    model = ToyConditionalModel()
    eps = classifier_free_guidance(model, labels, 0.0, NULL)(x, t)
    torch.testing.assert_close(eps, ToyConditionalModel()(x, t, torch.full_like(labels, NULL)))
    assert len(model.calls) == 1 and bool((model.calls[0] == NULL).all())


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_guided_combination_in_one_batched_call(inputs, scale: float) -> None:  # noqa: ANN001
    x, t, labels = inputs
    model = ToyConditionalModel()
    eps = classifier_free_guidance(model, labels, scale, torch.tensor(NULL))(x, t)
    reference = ToyConditionalModel()
    eps_c, eps_u = reference(x, t, labels), reference(x, t, torch.full_like(labels, NULL))
    torch.testing.assert_close(eps, eps_u + scale * (eps_c - eps_u))
    assert len(model.calls) == 1 and model.calls[0].tolist() == labels.tolist() + [NULL] * 4


def test_guided_denoiser_drives_a_sampler(inputs) -> None:  # noqa: ANN001
    x, _, labels = inputs
    model = ToyConditionalModel()
    schedule = make_schedule(100)
    out = sample_ddim(classifier_free_guidance(model, labels, 2.0, NULL), x, schedule, 5)
    assert out.shape == x.shape and bool(out.isfinite().all()) and len(model.calls) == 5


def test_batch_mismatch_raises(inputs) -> None:  # noqa: ANN001
    x, t, labels = inputs
    with pytest.raises(ValueError, match="batch size"):
        classifier_free_guidance(ToyConditionalModel(), labels[:2], 2.0, NULL)(x, t)
