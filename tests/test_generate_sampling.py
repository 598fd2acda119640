"""Per-record sampling: exact samples of the warped distribution, independent of the batch."""

from __future__ import annotations

import torch

from polyalign.generate.sampling import record_sampler, record_seed


def test_record_seed_depends_on_seed_and_id_only() -> None:
    assert record_seed(0, "a") == record_seed(0, "a")
    assert len({record_seed(0, "a"), record_seed(1, "a"), record_seed(0, "b")}) == 3
    assert 0 <= record_seed(7, "中文") < 2**63


def test_a_row_draws_the_same_token_whatever_shares_its_batch() -> None:
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    ids = torch.zeros(3, 1, dtype=torch.long)
    together = record_sampler([11, 22, 33], 0.7, 0, 0.95)(ids, logits).argmax(-1)
    for row, seed in enumerate([11, 22, 33]):
        alone = record_sampler([seed], 0.7, 0, 0.95)(ids[row : row + 1], logits[row : row + 1]).argmax(-1)
        assert alone.item() == together[row].item()


def test_gumbel_max_reproduces_the_softmax_and_respects_top_k() -> None:
    """logits ln(1, 2, 3, 0.001) at T = 1 give p ≈ (1/6, 2/6, 3/6, 0); top-k 3 removes the 4th."""
    logits = torch.tensor([[1.0, 2.0, 3.0, 1e-3]]).log()  # the 4th: p ≈ 1.7e-4 before top-k
    ids = torch.zeros(1, 1, dtype=torch.long)
    counts = torch.zeros(4)
    for seed in range(6000):
        counts[record_sampler([seed], 1.0, 3, 1.0)(ids, logits.clone()).argmax(-1)] += 1
    share = counts / counts.sum()
    torch.testing.assert_close(share[:3], torch.tensor([1 / 6, 2 / 6, 3 / 6]), atol=0.02, rtol=0)
    assert counts[3] == 0


def test_later_steps_use_the_rows_own_stream() -> None:
    """Two steps of one sampler differ (the generator advances) and replay identically."""
    logits = torch.zeros(2, 1000)
    ids = torch.zeros(2, 1, dtype=torch.long)
    first = record_sampler([5, 6], 1.0, 0, 1.0)
    steps = [first(ids, logits).argmax(-1).tolist() for _ in range(2)]
    again = record_sampler([5, 6], 1.0, 0, 1.0)
    assert steps == [again(ids, logits).argmax(-1).tolist() for _ in range(2)]
    assert steps[0] != steps[1]
