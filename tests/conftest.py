import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    # Tests compare weights bit for bit; one thread keeps CPU reductions in a fixed order.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
