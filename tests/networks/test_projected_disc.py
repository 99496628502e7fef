"""The paper-scale projected discriminator (harness/networks/projected_disc.py) on reduced random-weight timm files."""

import pytest
import torch

from harness.errors import HarnessError
from harness.networks import fixtures as fx
from harness.networks.projected_disc import DEIT, EFFNET, load_task_discriminator, load_timm
from harness.presets import get_preset


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("gan-weights")
    for key in ("gan_deit", "gan_effnet"):
        w = get_preset("imagenet").weight(key)
        fx.save_timm_safetensors(fx.build_timm_feature_net(fx._GAN_NETS[w.fixture]), root / w.relpath)
    return root


@pytest.fixture
def disc(weights, monkeypatch):
    monkeypatch.setattr("harness.presets.hf_cache_path", lambda w: None)
    return load_task_discriminator("imagenet", weights)


def _frozen(d):
    return {k: v.detach().clone() for k, v in [*d.named_parameters(), *d.named_buffers()] if not k.startswith("heads.")}


def test_forward_shapes_and_frozen_parts(disc):
    # 4 DeiT heads on 112/56/28/14 maps (4x4 logits) + 4 EfficientNet heads on 128/64/32/16 maps (5x5)
    assert disc(torch.rand(2, 3, 256, 256) * 2 - 1).shape == (2, 4 * 16 + 4 * 25)
    assert disc(torch.zeros(1, 3, 128, 128)).shape[0] == 1  # below 224: both networks see 224
    disc.train()
    assert disc.training and not disc.pretrained.training and not disc.proj.training and not disc.reassemble.training
    trainable = {n for n, p in disc.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("heads.") for n in trainable)


def test_a_discriminator_step_changes_only_the_heads(disc):
    from methods.gan import GAN

    gan = GAN(disc, seed=0)
    before, heads = _frozen(disc), {k: v.clone() for k, v in disc.heads.state_dict().items()}
    real, fake = torch.rand(2, 3, 256, 256) * 2 - 1, (torch.rand(2, 3, 256, 256) * 2 - 1).requires_grad_(True)
    logs = gan.discriminator_step(real, fake)
    assert set(logs) == {"loss_d_real", "loss_d_fake"} and fake.grad is None
    assert all(p.grad is None for n, p in disc.named_parameters() if not n.startswith("heads."))
    assert all(torch.equal(v, dict([*disc.named_parameters(), *disc.named_buffers()])[k]) for k, v in before.items())
    assert any(not torch.equal(v, disc.heads.state_dict()[k]) for k, v in heads.items())
    gan.generator_loss(fake).backward()  # the generator's loss reaches the image
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_state_dict_leaves_out_the_pretrained_networks_and_reloads(disc, weights):
    from safetensors.torch import load_file, save_file

    sd = disc.state_dict()
    assert sd and not any(k.startswith("pretrained.") for k in sd) and any(k.startswith("proj.") for k in sd)
    path = weights / "disc.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, path)
    other = load_task_discriminator("imagenet", weights)
    with torch.no_grad():
        other.heads[0][0].weight_orig.add_(1.0)
    other.load_state_dict(load_file(path))  # strict: what a resume does
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in sd.items())


def test_missing_file_is_one_line_naming_the_file_and_its_source(tmp_path, monkeypatch):
    monkeypatch.setattr("harness.presets.hf_cache_path", lambda w: None)
    with pytest.raises(HarnessError) as e:
        load_task_discriminator("imagenet", tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "gan/deit_base_distilled_patch16_224.safetensors" in msg
    assert "timm/deit_base_distilled_patch16_224.fb_in1k" in msg


def test_wrong_or_partial_files_are_refused_and_bn_counters_may_be_absent(weights, tmp_path):
    from safetensors.torch import load_file, save_file

    eff = weights / get_preset("imagenet").weight("gan_effnet").relpath
    with pytest.raises(HarnessError, match="lacks"):  # an EfficientNet file where DeiT belongs
        load_timm(DEIT, eff, "src")
    sd = load_file(eff)
    save_file({k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}, tmp_path / "a.safetensors")
    assert load_timm(EFFNET, tmp_path / "a.safetensors", "src").training is False
    save_file({k: v for k, v in sd.items() if k != "conv_head.weight"}, tmp_path / "b.safetensors")
    with pytest.raises(HarnessError, match="does not match the model.*missing 1: conv_head.weight"):
        load_timm(EFFNET, tmp_path / "b.safetensors", "src")


def test_doctor_lists_the_gan_files_of_a_fixture_folder(tmp_path, monkeypatch):
    from harness.doctor import doctor

    monkeypatch.setattr("harness.presets.hf_cache_path", lambda w: None)
    fx.write_fixtures("imagenet", tmp_path)
    ok, lines = doctor("imagenet", tmp_path)
    assert ok
    for rel in ("gan/deit_base_distilled_patch16_224.safetensors", "gan/tf_efficientnet_lite0.safetensors"):
        assert any(l.startswith("[ok     ] " + rel + " (gan, optional)") for l in lines), lines
