"""--device / --precision (issue 14 item 5): one place decides (harness.distributed), bad values are one-line
errors, and bf16 autocast covers the network forwards only: what they return, and the drift loss, stay float32."""

import pytest
import torch

from harness import distributed as D
from harness.errors import HarnessError
from harness.precision import Autocast


@pytest.fixture(autouse=True)
def automatic():
    D.configure()  # every test starts and ends on the automatic choice
    yield
    D.configure()


def test_bad_device_and_precision_are_one_line_errors_naming_the_choices():
    for spec, want in [("tpu", "choose cpu, cuda or cuda:N"), ("cuda:x", "choose cpu, cuda or cuda:N")]:
        with pytest.raises(HarnessError, match=want) as e:
            D.configure(spec)
        assert "\n" not in str(e.value)
    with pytest.raises(HarnessError, match="choose fp32 or bf16"):
        D.configure("cpu", "fp16")
    if not torch.cuda.is_available():
        with pytest.raises(HarnessError, match="no CUDA GPU.*--device cpu"):
            D.configure("cuda")


def test_device_and_precision_defaults():
    assert D.device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    D.configure("cpu")
    assert D.device() == torch.device("cpu")
    assert D.precision("imagenet") == "fp32" and D.precision("shapes") == "fp32"  # fp32 on CPU unless asked
    D.configure("cpu", "bf16")
    assert D.precision("shapes") == "bf16" and isinstance(D.amp(torch.nn.Linear(2, 2), "shapes"), Autocast)
    D.configure("cpu", "fp32")
    lin = torch.nn.Linear(2, 2)
    assert D.amp(lin, "imagenet") is lin  # fp32: the module itself, untouched


class _Net(torch.nn.Module):
    mask_id = 7

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)
        self.seen = []

    def forward(self, x):
        y = self.lin(x)
        self.seen.append(y.dtype)
        return y

    def decode(self, x):
        return {"a": self.forward(x), "n": torch.ones(2, dtype=torch.long)}


def test_autocast_runs_bf16_inside_and_hands_back_float32():
    net = _Net()
    wrapped = Autocast(net, "cpu")
    x = torch.randn(2, 8)
    y = wrapped(x)
    assert net.seen[-1] == torch.bfloat16 and y.dtype == torch.float32
    assert not torch.allclose(y, net.lin(x), atol=0, rtol=0) and torch.allclose(y, net.lin(x), atol=0.05)
    out = wrapped.decode(x)  # methods are wrapped too; non-float outputs untouched
    assert net.seen[-1] == torch.bfloat16 and out["a"].dtype == torch.float32 and out["n"].dtype == torch.long
    assert wrapped.mask_id == 7 and wrapped.lin is net.lin  # attributes are the inner module's
    assert list(wrapped.parameters()) == list(net.parameters())


def test_fpd_training_in_bf16_keeps_the_drift_loss_in_float32(tmp_path, monkeypatch):
    """Two shapes FPD steps with --precision bf16 on the CPU: the networks run under autocast, the drift loss
    sees float32 features with autocast off."""
    import methods.fpd as fpd_method
    from harness.trainers.fpd import FPDTrainConfig, train

    seen, forwards = [], []
    real_drift = fpd_method.drift_loss

    def drift_spy(x, y, *a, **k):
        seen.append((torch.is_autocast_enabled("cpu"), {v.dtype for v in (*x.values(), *y.values())}))
        return real_drift(x, y, *a, **k)

    real_forward = Autocast.forward

    def forward_spy(self, *a, **k):
        forwards.append(type(self.inner).__name__)
        return real_forward(self, *a, **k)

    monkeypatch.setattr(fpd_method, "drift_loss", drift_spy)
    monkeypatch.setattr(Autocast, "forward", forward_spy)
    D.configure("cpu", "bf16")
    res = train(FPDTrainConfig(task="shapes", steps=2, batch=4, stats_every=0), tmp_path / "run", sample_every=0)
    assert res["precision"] == "bf16" and res["device"] == "cpu"
    assert seen and all(not on and dtypes == {torch.float32} for on, dtypes in seen)
    assert "ShapesMaskTransformer" in forwards  # student and teacher forwards went through autocast
    assert res["train"]["last"]["loss"] == res["train"]["last"]["loss"]  # finite (not NaN)
