"""Run ``halbench`` with accelerate's FSDP on CPU processes (gloo), for tests only.

accelerate (checked with 1.15) never selects FSDP without an accelerator device: in
``AcceleratorState.__init__`` the FSDP branch is reached only for MULTI_GPU/NPU/XPU/...,
so under ``accelerate launch --cpu`` with ``ACCELERATE_USE_FSDP=true`` the state stays
MULTI_CPU and ``prepare`` wraps the model in DDP. torch's FSDP1 and FSDP2 themselves run on
CPU with gloo. This launcher patches only that selection (MULTI_CPU + an FSDP plugin ->
distributed_type FSDP); everything else (wrapping, state-dict gathering, sharded
checkpoints) is accelerate's and torch's unmodified code. Usage, as the test does:

    ACCELERATE_USE_FSDP=true FSDP_...=... accelerate launch --cpu --num_processes 2 \
        tests/cpu_dist_launch.py -q train ddpo --config ...
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _patch() -> None:
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__

    def init(self, *args, fsdp_plugin=None, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            if self.mixed_precision != "no":
                fsdp_plugin.set_mixed_precision(self.mixed_precision)
            self.fsdp_plugin = fsdp_plugin
            self.distributed_type = DistributedType.FSDP
            PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    AcceleratorState.__init__ = init  # type: ignore[method-assign]

    partial_init = PartialState.__init__

    def partial(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # DeepSpeed: accelerate lets deepspeed.comm create the (gloo) process group, then, having
        # no backend of its own without CUDA, records 1 process; take the group's real size
        import torch.distributed as dist

        partial_init(self, *args, **kwargs)
        if (
            self.distributed_type == DistributedType.DEEPSPEED
            and self.num_processes == 1
            and dist.is_initialized()
        ):
            self.backend = dist.get_backend()
            self.num_processes, self.process_index = dist.get_world_size(), dist.get_rank()
            self.local_process_index = int(os.environ["LOCAL_RANK"])

    PartialState.__init__ = partial  # type: ignore[method-assign]

    report = os.environ.get("HALBENCH_TEST_DIST_REPORT")
    if report:  # evidence for the test that prepare() really sharded the model / optimizer
        import json

        import torch
        from accelerate import Accelerator
        from torch.distributed.tensor import DTensor

        prepare = Accelerator.prepare

        def local(p):  # type: ignore[no-untyped-def]
            if isinstance(p, DTensor):  # FSDP2 shard
                return p.to_local().numel()
            return p.ds_tensor.numel() if hasattr(p, "ds_tensor") else p.numel()  # ZeRO-3 partition

        def prepare_and_report(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            result = prepare(self, *args, **kwargs)
            (model,) = [x for x in result if isinstance(x, torch.nn.Module)]
            ps = [p for p in model.parameters() if p.requires_grad]
            zero = getattr(
                model, "optimizer", None
            )  # DeepSpeed's ZeRO optimizer (its fp32 partition)
            flat = getattr(zero, "single_partition_of_fp32_groups", None) or getattr(
                zero, "fp32_partitioned_groups_flat", None
            )
            row = {
                "class": type(model).__name__,
                "params": len(ps),
                "dtensor_params": sum(isinstance(p, DTensor) for p in ps),
                "full_numel": sum(getattr(p, "ds_numel", p.numel()) for p in ps),
                "local_numel": sum(local(p) for p in ps),
                "optimizer_numel": sum(t.numel() for t in flat) if flat else None,
            }
            Path(f"{report}-rank{self.process_index}.json").write_text(json.dumps(row))
            return result

        Accelerator.prepare = prepare_and_report  # type: ignore[method-assign]


if __name__ == "__main__":
    if "true" not in (
        os.environ.get("ACCELERATE_USE_FSDP"),
        os.environ.get("ACCELERATE_USE_DEEPSPEED"),
    ):
        raise SystemExit(
            "cpu_dist_launch.py: neither ACCELERATE_USE_FSDP nor ACCELERATE_USE_DEEPSPEED is true"
        )
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    _patch()
    from halbench.cli import main

    raise SystemExit(main(sys.argv[1:]))
