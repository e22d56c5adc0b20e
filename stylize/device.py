"""The one place that picks the device and the precision, reads torchrun's environment, and seeds.

Resolving a device changes no process-wide setting: the faster cuDNN modes are switched on only inside
`accelerated(device)`, around the work, and restored after it.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from stylize.errors import DeviceError, first_line


@dataclass(frozen=True)
class DistributedEnv:
    """This process's place in a torchrun job (rank 0 of 1 outside torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> DistributedEnv:
        """Read RANK, WORLD_SIZE and LOCAL_RANK as torchrun sets them."""
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        except ValueError:
            raise DeviceError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (as torchrun sets them)") from None
        if world < 1 or not 0 <= rank < world or local_rank < 0:
            raise DeviceError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world}")
        return cls(rank, world, local_rank)


class ProcessGroup:
    """The process group of a torchrun job (nothing for a single process): created here unless one exists,
    destroyed by close() if created here.

    backend: "nccl" for a card's tensors (training's gradients), "gloo" for the CPU's (a video job's few
    numbers). timeout: how long a collective waits for the slowest process (PyTorch's default, 30 minutes for
    gloo, is shorter than a video's share can take).
    """

    def __init__(self, env: DistributedEnv, backend: str = "gloo",
                 timeout: datetime.timedelta | None = None) -> None:
        self.env = env
        self.owned = False
        if env.world > 1 and not dist.is_initialized():
            try:
                dist.init_process_group(backend, **({} if timeout is None else {"timeout": timeout}))
            except (ValueError, RuntimeError) as error:  # WORLD_SIZE set by hand, without torchrun's rendezvous
                raise DeviceError(f"WORLD_SIZE={env.world}, but the processes could not be joined "
                                  f"({first_line(error)}): start them with torchrun") from None
            self.owned = True

    def barrier(self) -> None:
        if self.env.world > 1:
            dist.barrier()

    def from_main(self, value: Any) -> Any:
        """The main process's `value` (any picklable object), in every process."""
        if self.env.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sums(self, *values: int) -> list[int]:
        """Each of `values` summed over the processes, in every process.

        The wait is a loop in Python, which a signal can reach (a blocking collective defers it to its end). A
        first Ctrl-C or SIGTERM (KeyboardInterrupt) is raised once every process has given its values: torchrun's
        processes are signalled together and come soon, and one that left at once would leave the others
        waiting on it. A second one is raised at once."""
        if self.env.world == 1:
            return list(values)
        totals = torch.tensor(values, dtype=torch.int64)
        work = dist.all_reduce(totals, async_op=True)
        stopped: KeyboardInterrupt | None = None
        while not work.is_completed():
            try:
                time.sleep(0.05)
            except KeyboardInterrupt as signal:
                if stopped is not None:
                    raise
                stopped = signal
        work.wait()
        if stopped is not None:
            raise stopped
        return [int(total) for total in totals]

    def close(self) -> None:
        if self.owned:
            dist.destroy_process_group()
            self.owned = False


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str | torch.device = "auto", env: DistributedEnv | None = None) -> torch.device:
    """Turn "auto", "cpu", "cuda", "cuda:1" or "mps" into a usable device.

    auto picks CUDA, then MPS, then the CPU. Under torchrun (env.world > 1), "auto" and "cuda" mean this
    process's own GPU, cuda:LOCAL_RANK. A device asked for by name that is not there is an error, never a
    silent fall back to the CPU.
    """
    env = env or DistributedEnv.from_environment()
    if isinstance(name, torch.device):
        name = str(name)
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif _mps_available():
            return torch.device("mps")
        else:
            return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} asked for, but CUDA is not available here")
        if device.index is None:
            index = env.local_rank % torch.cuda.device_count() if env.world > 1 else torch.cuda.current_device()
            device = torch.device("cuda", index)
        if device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} asked for, but it is not available here: "
                              f"{torch.cuda.device_count()} CUDA device(s), numbered from 0")
    elif device.type == "mps" and not _mps_available():
        raise DeviceError(f"device {name!r} asked for, but MPS is not available here")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unsupported device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


@contextlib.contextmanager
def accelerated(device: torch.device, exact: bool = False) -> Iterator[None]:
    """Within the block, cuDNN picks the fastest kernels for the shapes it sees (a no-op off CUDA).

    benchmark mode pays off because every job runs many passes at a few fixed sizes. TF32 convolutions
    (cuDNN's default) keep fp32 storage and range; matmuls stay full fp32, so Gram matrices stay exact.
    exact: for the optimization, which promises the same image for the same seed and feeds its gradients to
    L-BFGS. cuDNN's reproducible kernels, chosen by its heuristics rather than timed (benchmark mode may pick
    another algorithm on each run, and some backward algorithms accumulate with atomics: PyTorch's notes on
    reproducibility), and full fp32 convolutions: TF32 rounds their inputs to 10 mantissa bits, and
    L-BFGS's curvature pairs are differences of gradients, which that noise corrupts (with TF32 emulated on
    the CPU, the first scale of examples/chelsea.jpg took steps that raised the loss 6-fold and stopped at
    12 steps of 20, the result's loss 2.7 % higher).
    """
    if device.type != "cuda":
        yield
        return
    with torch.cuda.device(device), torch.backends.cudnn.flags(
            enabled=True, benchmark=not exact, deterministic=exact, allow_tf32=not exact):
        yield


def autocast_dtype(device: torch.device, cpu_bf16: bool = False) -> torch.dtype | None:
    """The reduced precision to autocast to on this device, or None for plain fp32.

    Never half precision on the CPU: it is slower there and some kernels lack it (Real-ESRGAN's fp16
    default on CPU drew a stream of "Half not implemented" reports). cpu_bf16: bf16 on a CPU with AMX tiles
    (Intel Sapphire Rapids and later), where oneDNN's bf16 convolutions are fast: VGG19 to relu5_1 on 8 crops
    of 160 px took 0.115 s against 0.57 s in fp32 on 2 cores; for the callers that tolerate its 8-bit significand.
    """
    if device.type == "cpu" and cpu_bf16:
        return torch.bfloat16 if has_amx() else None
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def has_amx() -> bool:
    """Whether this CPU has AMX tiles (Intel Sapphire Rapids and later), where oneDNN's bf16 convolutions are
    several times faster than fp32 ones."""
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def precision_dtype(device: torch.device, precision: str, cuda_auto_bf16: bool = True) -> torch.dtype | None:
    """bf16, or None for fp32: the dtype to autocast the networks to for a `precision` setting (the
    optimization's VGG19 passes, tasks/gatys; the arbitrary model's cascade, tasks/arbitrary).

    fp32 always None; bf16 wherever bf16 runs (DeviceError elsewhere); auto: bf16 where it is fast, a CPU with
    AMX or a CUDA card with bf16 (Ampere and later; unless cuda_auto_bf16 is off), fp32 elsewhere. The
    arbitrary model turns it off: on an H200 bf16 ran 1080p frames only 1.2 times faster than TF32 and moved
    pixels by 0.009, where on a 2-core CPU with AMX its cascade runs 2.4 times faster than in fp32.

    The optimization: its losses and L-BFGS stay fp32 (losses.py), the convolutions and the Gram products
    round to bf16's 8-bit significand. With bf16 convolutions alone, on the four pairs of
    benchmarks/gatys_time_to_quality.py (2-core CPU with AMX, the default run) bf16 scored content / style
    0.754 / 0.168 against fp32's 0.754 / 0.169 in 11.4 s against 27.8 s, and on eight more pairs 0.820 / 0.200
    against 0.814 / 0.202. On examples/chelsea.jpg, where emulated TF32 stopped its first scale early
    (accelerated's note), bf16 runs every scale's 20 steps as fp32 does: 1.565 / 0.269 against 1.552 / 0.271.
    Not yet measured on a GPU (benchmarks/gpu_speed.py prints both precisions' scores there).
    """
    if precision == "fp32":
        return None
    bf16_runs = device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported())
    if precision == "bf16":
        if not bf16_runs:
            raise DeviceError(f"--precision bf16 needs a CPU or a CUDA card with bf16, not {device}: use fp32")
        return torch.bfloat16
    fast = has_amx() if device.type == "cpu" else bf16_runs and cuda_auto_bf16
    return torch.bfloat16 if fast else None


def autocast(device: torch.device, enabled: bool = True, cpu_bf16: bool = False) -> contextlib.AbstractContextManager:
    """An autocast context for network forwards on this device (a no-op on MPS, and on CPU unless cpu_bf16)."""
    return autocast_to(device, autocast_dtype(device, cpu_bf16) if enabled else None)


def autocast_to(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to this dtype (from autocast_dtype or precision_dtype); a no-op for None (plain fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last: measured about 1.3x faster for VGG19 on CPU, and the fast layout for cuDNN."""
    return torch.channels_last if device.type in ("cpu", "cuda") else torch.contiguous_format


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's generators (all devices) for a reproducible run."""
    random.seed(seed)
    torch.manual_seed(seed)


def is_out_of_memory(error: BaseException) -> bool:
    """Whether an exception means the host or the device ran out of memory.

    torch reports exhaustion as torch.OutOfMemoryError on CUDA, and on the CPU as a RuntimeError from its
    allocator ("DefaultCPUAllocator: can't allocate memory"); Python raises MemoryError. A data loading worker
    that the kernel's OOM killer ends (SIGKILL) reaches the training process as a RuntimeError "DataLoader
    worker ... exited unexpectedly", caused by one saying it "is killed by signal: Killed".
    """
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = f"{error} {error.__cause__ or ''}"
    return isinstance(error, RuntimeError) and any(
        sign in text for sign in ("out of memory", "can't allocate memory", "is killed by signal: Killed"))


def available_memory(device: torch.device) -> int:
    """Bytes a job can still allocate on the device: free GPU memory, or the host's available memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as stream:  # Linux: MemAvailable counts reclaimable caches too
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**62  # unknown: assume enough, and let an allocation failure speak
