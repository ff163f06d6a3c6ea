"""Length-grouped training batches: less padding, yet every example once per epoch, reshuffled
every epoch, the same on every process and after a restart."""

import random

from nlpclf.data import NewsgroupsSource, TextDataModule
from nlpclf.data.samplers import LengthGroupedSampler

# a long-tailed corpus like 20 Newsgroups: most documents short, some cut at the maximum
LENGTHS = [min(512, int(random.Random(i).lognormvariate(5.3, 0.9))) + 1 for i in range(2000)]


def padded_tokens(order: list[int], batch_size: int) -> int:
    return sum(
        max(LENGTHS[i] for i in order[s : s + batch_size]) * len(order[s : s + batch_size])
        for s in range(0, len(order), batch_size)
    )


def test_each_epoch_is_a_new_permutation_in_batches_of_similar_length():
    sampler = LengthGroupedSampler(LENGTHS, batch_size=64, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(len(LENGTHS))) and len(sampler) == len(LENGTHS)
    shuffled = random.Random(0).sample(range(len(LENGTHS)), len(LENGTHS))
    # the padding of random batches is the cost this sampler removes
    assert padded_tokens(first, 64) < 0.7 * padded_tokens(shuffled, 64)
    assert padded_tokens(first, 64) < 1.2 * sum(LENGTHS)  # mega-batches of 7 batches here
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(second) == sorted(first) and second != first
    again = LengthGroupedSampler(LENGTHS, batch_size=64, seed=3)
    again.set_epoch(1)
    assert list(again) == second  # a restarted run replays the epoch's order


def test_processes_share_each_global_batch():
    lengths = LENGTHS[:1001]  # odd: padded like DistributedSampler, as many on each process
    shares = [list(LengthGroupedSampler(lengths, 64, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 501
    assert set(shares[0]) | set(shares[1]) == set(range(1001))
    whole = list(LengthGroupedSampler(lengths, 64))
    for step in range(len(shares[0]) // 32):
        # step k of every process is its half of the global batch k of the whole order
        together = shares[0][step * 32 : (step + 1) * 32] + shares[1][step * 32 : (step + 1) * 32]
        assert together == whole[step * 64 : (step + 1) * 64]


def test_datamodule_groups_training_batches_by_length(archive_dir, tmp_path):
    def padding(group_by_length: bool) -> float:
        dm = TextDataModule(
            NewsgroupsSource(str(archive_dir)),
            cache_dir=str(tmp_path / "c"),
            batch_size=8,
            max_length=1000,  # no cut: the documents keep their varied lengths
            group_by_length=group_by_length,
        )
        dm.setup()
        batches = list(dm.train_dataloader())
        assert sum(len(b["labels"]) for b in batches) == len(dm.splits["train"])
        mask = [b["attention_mask"] for b in batches]
        return sum(m.numel() for m in mask) / sum(int(m.sum()) for m in mask)

    grouped, plain = padding(True), padding(False)
    assert grouped < plain and grouped < 1.15
