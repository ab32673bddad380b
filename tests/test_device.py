import pytest
import torch

from toyhelpers.device import limit_cpu_threads, pick_device
from toyhelpers.notebook import fast_mode


def test_explicit_cpu_and_env_override(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("TOYHELPERS_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        pick_device("cuda")


def test_unknown_device_lists_the_choices():
    with pytest.raises(ValueError, match="use 'auto', 'cpu', 'cuda'"):
        pick_device("tpu")


def test_cpu_threads_default_to_one():
    before = torch.get_num_threads()
    try:
        assert limit_cpu_threads(torch.device("cpu")) == 1
        assert limit_cpu_threads(torch.device("cpu"), 2) == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "value, expected", [("1", True), ("true", True), ("", False), ("0", False)]
)
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("TOYHELPERS_FAST", value)
    assert fast_mode() is expected
