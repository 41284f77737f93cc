"""Data-parallel training with torch.distributed (DDP): one process per device, gradients averaged.

Run on 2 CPU processes (gloo) or 2 GPUs (NCCL, chosen automatically when CUDA is present):

    torchrun --nproc-per-node 2 examples/ddp_train.py
    torchrun --nproc-per-node 2 examples/ddp_train.py --check   # also compare gradients

Started without torchrun it runs as a single process (a group of one), so the same script works
everywhere. Two models are trained: a stateless ``snn.Sequential`` (the state is passed
explicitly and returned) and a stateful network (neurons keep their state between steps and are
reset before every sequence). Every rank runs its neurons on the ``fused`` backend.

With ``--check`` every rank computes the first step's gradients on its shard; after DDP has
averaged them they must equal the gradients one process computes on the whole global batch.
"""

from __future__ import annotations

import argparse
import os
import socket

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import snncore as snn

STEPS_T = 8  # time steps per sequence
FEATURES, HIDDEN, CLASSES = 12, 32, 3


def make_data(n: int = 256) -> TensorDataset:
    """The same synthetic data set in every rank (seeded); the sampler splits it."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, FEATURES, generator=g)
    y = (x[:, 0] > x[:, 1]).long() + (x[:, 2] > 0.5).long()
    return TensorDataset(x, y)


def stateless_model() -> nn.Module:
    """``out, state = net(x_seq)``: the state is explicit, nothing is kept between calls."""
    return snn.Sequential(
        nn.Linear(FEATURES, HIDDEN), snn.Leaky(beta=0.9, learn_beta=True),
        nn.Linear(HIDDEN, CLASSES), snn.Leaky(beta=0.9, reset="none"),
        backend="fused",
    )


class StatefulNet(nn.Module):
    """Neurons built with ``stateful=True``; the whole sequence is one ``forward`` (DDP averages
    gradients once per backward, so one forward must cover the sequence)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(FEATURES, HIDDEN)
        self.lif1 = snn.Leaky(beta=0.85, stateful=True, backend="fused")
        self.fc2 = nn.Linear(HIDDEN, CLASSES)
        self.lif2 = snn.Leaky(beta=0.9, reset="none", stateful=True, backend="fused",
                              learn_threshold=True)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        snn.reset(self)  # every sequence starts from a fresh state
        spk = self.lif1.run(self.fc1(x_seq))
        return self.lif2.run(self.fc2(spk))


def encode(x: torch.Tensor) -> torch.Tensor:
    """Constant-current coding: the same input at every step, ``[T, B, F]``."""
    return x.unsqueeze(0).expand(STEPS_T, *x.shape).mul(1.5)


def loss_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = model(encode(x))
    spk = out[0] if isinstance(out, tuple) else out
    return nn.functional.cross_entropy(spk.mean(0) * 4.0, y)


def setup() -> tuple[int, int, torch.device]:
    """Join the process group that torchrun describes (or a group of one without torchrun)."""
    if "RANK" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0",
                          MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    local_rank = int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        device = torch.device("cpu")
        torch.set_num_threads(1)  # ranks share the machine's cores
        dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size(), device


def check_gradients(name: str, build, data: TensorDataset, rank: int, world: int,
                    device: torch.device, batch: int) -> float:
    """Largest difference between DDP's averaged gradients and one process's global batch."""
    torch.manual_seed(1)
    model = DDP(build().to(device))
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=False)
    x, y = next(iter(DataLoader(data, batch_size=batch, sampler=sampler)))
    loss_of(model, x.to(device), y.to(device)).backward()
    torch.manual_seed(1)
    single = build().to(device)
    # the global batch in the sampler's order: rank r holds samples r, r + world, ...
    idx = torch.arange(batch * world).reshape(batch, world).t().reshape(-1)
    gx, gy = data.tensors[0][idx].to(device), data.tensors[1][idx].to(device)
    loss_of(single, gx, gy).backward()
    diff = max((a.grad - b.grad).abs().max().item()
               for a, b in zip(model.module.parameters(), single.parameters(), strict=True))
    if rank == 0:
        print(f"[{name}] gradient check over {world} process(es): max |DDP - single| = {diff:.2e}")
    if diff > 1e-5:
        raise SystemExit(f"[{name}] DDP gradients differ from the single-process ones by {diff}")
    return diff


def train(name: str, build, data: TensorDataset, rank: int, world: int,
          device: torch.device, steps: int, batch: int) -> float:
    torch.manual_seed(0)  # the same initial weights in every rank (DDP also broadcasts them)
    model = DDP(build().to(device))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=batch, sampler=sampler)
    step, epoch, loss, first = 0, 0, torch.zeros(()), None
    while step < steps:
        sampler.set_epoch(epoch)  # a different shuffle per epoch, the same in every rank
        for x, y in loader:
            loss = loss_of(model, x.to(device), y.to(device))
            opt.zero_grad()
            loss.backward()  # DDP averages the gradients over the ranks here
            opt.step()
            first = loss.item() if first is None else first
            step += 1
            if step >= steps:
                break
        epoch += 1
    mean = loss.detach().clone()
    dist.all_reduce(mean)
    mean /= world
    if rank == 0:
        print(f"[{name}] {steps} steps on {world} process(es) ({dist.get_backend()}): "
              f"loss {first:.4f} -> {mean.item():.4f} (mean over ranks)")
    return mean.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per model")
    parser.add_argument("--batch", type=int, default=16, help="samples per rank and step")
    parser.add_argument("--check", action="store_true", help="compare gradients first")
    args = parser.parse_args()
    rank, world, device = setup()
    try:
        data = make_data()
        for name, build in (("stateless", stateless_model), ("stateful", StatefulNet)):
            if args.check:
                check_gradients(name, build, data, rank, world, device, args.batch)
            train(name, build, data, rank, world, device, args.steps, args.batch)
        # every rank reaches this point before any tears the group down: a rank that exits
        # while another's gloo connections are still open can abort the other at exit
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
