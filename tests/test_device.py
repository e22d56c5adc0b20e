import pytest
import torch

from stylize import device as devices
from stylize.device import DistributedEnv, accelerated, is_out_of_memory, resolve_device
from stylize.errors import DeviceError


def _flags():
    return (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)


def test_resolving_a_device_changes_no_process_wide_flag(fake_cuda):
    before = _flags()
    assert resolve_device("cuda", DistributedEnv()) == torch.device("cuda", 0)
    assert resolve_device("auto", DistributedEnv()).type == "cuda"
    assert _flags() == before


def test_torchrun_picks_each_process_its_own_gpu(fake_cuda, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("RANK", "6")
    monkeypatch.setenv("LOCAL_RANK", "6")
    env = DistributedEnv.from_environment()
    assert (env.rank, env.world, env.local_rank, env.main) == (6, 8, 6, False)
    assert resolve_device("auto") == torch.device("cuda", 2)  # 6 % 4 devices
    assert resolve_device("cuda:1") == torch.device("cuda", 1)  # named explicitly: as asked
    assert resolve_device("cpu") == torch.device("cpu")


def test_bad_environments_and_devices_are_device_errors(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(DeviceError, match="whole numbers"):
        DistributedEnv.from_environment()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(DeviceError, match="inconsistent"):
        DistributedEnv.from_environment()
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu", DistributedEnv())


def test_accelerated_restores_flags_and_is_a_no_op_on_cpu():
    before = _flags()
    with accelerated(torch.device("cpu")):
        assert _flags() == before
    assert _flags() == before


def test_a_cuda_index_past_the_devices_is_not_available(fake_cuda):
    with pytest.raises(DeviceError, match=r"'cuda:7' asked for, but it is not available here: 4 CUDA device"):
        resolve_device("cuda:7", DistributedEnv())


def test_exact_acceleration_is_deterministic_full_fp32_on_cuda(device):
    if not device.startswith("cuda"):
        pytest.skip("cuDNN flags matter on CUDA only (run with --device cuda)")
    before = _flags(), torch.backends.cudnn.deterministic
    with accelerated(torch.device(device), exact=True):
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert not torch.backends.cudnn.allow_tf32
    with accelerated(torch.device(device)):
        assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
        assert torch.backends.cudnn.allow_tf32
    assert (_flags(), torch.backends.cudnn.deterministic) == before


def test_out_of_memory_is_recognized_on_host_and_device():
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate "
                                         "memory"))
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    # a data loading worker ended by the kernel's OOM killer, as the training process hears of it
    killed = RuntimeError("DataLoader worker (pid(s) 2176) exited unexpectedly")
    killed.__cause__ = RuntimeError("DataLoader worker (pid 2176) is killed by signal: Killed. ")
    assert is_out_of_memory(killed)
    assert not is_out_of_memory(RuntimeError("DataLoader worker (pid(s) 2176) exited unexpectedly"))
    assert devices.autocast_dtype(torch.device("cpu")) is None  # never half precision on the CPU


def test_the_optimization_runs_in_bf16_where_it_is_fast_or_asked(monkeypatch):
    cpu = torch.device("cpu")
    for has_amx in (True, False):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda has_amx=has_amx: has_amx, raising=False)
        assert devices.precision_dtype(cpu, "auto") == (torch.bfloat16 if has_amx else None)
        assert devices.precision_dtype(cpu, "bf16") == torch.bfloat16  # asked: slow without AMX, but it runs
        assert devices.precision_dtype(cpu, "fp32") is None
    assert devices.precision_dtype(torch.device("mps"), "auto") is None
    with pytest.raises(DeviceError, match="--precision bf16 needs a CPU or a CUDA card with bf16, not mps"):
        devices.precision_dtype(torch.device("mps"), "bf16")


def test_bf16_on_the_cpu_only_where_asked_and_where_amx_makes_it_fast(monkeypatch):
    cpu = torch.device("cpu")
    for has_amx in (True, False):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda has_amx=has_amx: has_amx, raising=False)
        assert devices.autocast_dtype(cpu, cpu_bf16=True) == (torch.bfloat16 if has_amx else None)
        assert devices.autocast_dtype(cpu) is None
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")  # a torch without the probe: fp32
    assert devices.autocast_dtype(cpu, cpu_bf16=True) is None
    with devices.autocast(cpu, cpu_bf16=True):
        assert not torch.is_autocast_enabled("cpu")


def test_world_size_set_by_hand_without_torchrun_is_one_line(monkeypatch):
    """WORLD_SIZE=2 without torchrun's MASTER_ADDR: PyTorch's rendezvous error (a ValueError) became a traceback."""
    from stylize.device import ProcessGroup

    for name in ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(DeviceError, match="WORLD_SIZE=2, but the processes could not be joined .*MASTER_ADDR.*"
                                          "start them with torchrun"):
        ProcessGroup(DistributedEnv.from_environment())
    assert ProcessGroup(DistributedEnv()).from_main("mine") == "mine"  # alone: no group, the values as they are
    assert ProcessGroup(DistributedEnv()).sums(2, 3) == [2, 3]
