"""The paper-scale discriminator of FPD's optional GAN: StyleGAN-XL's projected discriminator.

Facts from autonomousvision/stylegan-xl @ 4241ff9 (`pg_modules/{projector,discriminator}.py`,
`feature_networks/pretrained_builder.py`, `train.py`):
* two frozen pretrained timm feature networks, `deit_base_distilled_patch16_224` (block outputs
  2, 5, 8, 11, the cls and dist tokens dropped, DPT "reassemble" convs to 4 scales) and
  `tf_efficientnet_lite0` (the ends of blocks[0:2], [2:3], [3:5], [5:]: strides 4 to 32);
* images in [-1, 1] -> [0, 1] -> per-network mean/std (EfficientNet 0.5/0.5, DeiT ImageNet);
  bilinear resize to 224 for the ViT, and for EfficientNet only below 224 (`interp224 = res < 224`);
* frozen *random* projections: reassemble, CCM (1x1 convs to 64/128/256/512) and CSM (top-down add,
  x2 upsample, 1x1 conv) -> channels 64/64/128/256 at nominal sizes 128/64/32/16;
* one trainable mini-discriminator per scale and network (8): spectral-norm conv 4x4 s2 + BatchNorm +
  LeakyReLU(0.2) down to 8, then a spectral-norm conv 4x4 to one channel; logits concatenated.
DiffAugment, hinge loss and the optimiser are methods/gan.py's GAN (simplification: one augmentation
per batch shared by both networks, where StyleGAN-XL draws one per network; losses are batch means).
Weights: the timm hub files, strictly loaded; shapes are read from the files, so reduced fixtures
(harness/networks/fixtures.py) take the same path. Not verified against the real files (no downloads).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import spectral_norm

from harness.errors import HarnessError

EFFNET, DEIT = "tf_efficientnet_lite0", "deit_base_distilled_patch16_224"
EFFNET_TAPS = (1, 2, 4, 6)  # last block of each layer (stylegan-xl `_make_efficientnet`)
DEIT_HOOKS = (2, 5, 8, 11)
DEIT_HEADS = 12  # qkv is [3d, d] whatever the head count: the official value
NORM = {EFFNET: ((0.5,) * 3, (0.5,) * 3), DEIT: ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}
NFC = {8: 512, 16: 256, 32: 128, 64: 64, 128: 64}  # StyleGAN-XL's `nfc_midas` channel table
SIZES = (128, 64, 32, 16)  # mini-D start sizes: im_res fixed to 256, /4../32, x2 by CSM
COUT = 64  # CCM width (`cout=64, expand=True`)


# ----------------------------------------------------------------------------------------------
# strict loading of the timm files
# ----------------------------------------------------------------------------------------------


def _timm_kwargs(name: str, sd: dict[str, Tensor]) -> dict:
    """create_model overrides read from the file's shapes (the classifier size; DeiT width/depth)."""
    try:
        if name == EFFNET:
            return {"num_classes": sd["classifier.weight"].shape[0]}
        d = sd["cls_token"].shape[-1]
        depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
        patch = sd["patch_embed.proj.weight"].shape[-1]
        grid = round((sd["pos_embed"].shape[1] - 2) ** 0.5)
        return {
            "embed_dim": d,
            "depth": depth,
            "num_heads": DEIT_HEADS,
            "patch_size": patch,
            "img_size": grid * patch,
            "mlp_ratio": sd["blocks.0.mlp.fc1.weight"].shape[0] / d,
            "num_classes": sd["head.weight"].shape[0],
        }
    except (KeyError, IndexError) as e:
        raise HarnessError(f"{name}: the file lacks {e} of a timm {name} checkpoint; is it the right file?") from None


def load_timm(name: str, path: str | Path, hint: str = "") -> nn.Module:
    """A frozen timm `name` built without downloads and loaded strictly from `path` (safetensors, .bin or hub
    folder)."""
    import timm

    from harness.networks.checkpoints import check_state_dict, read_official_plain

    path = Path(path)
    if not path.exists():
        raise HarnessError(f"GAN discriminator: {name} weights not found at {path}; {hint or 'see `harness doctor`'}")
    sd = read_official_plain(path, f"timm {name}")
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False, **_timm_kwargs(name, sd))
    expected = model.state_dict()
    for k, t in expected.items():  # BN step counters are unused in eval mode; files may omit them
        if k.endswith("num_batches_tracked") and k not in sd:
            sd[k] = torch.zeros(t.shape, dtype=t.dtype)
    check_state_dict(expected, sd, f"timm {name} checkpoint {path.name}")
    model.load_state_dict({k: sd[k].to(expected[k].dtype) for k in expected}, strict=True, assign=True)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):  # a buffer no file carries
        raise RuntimeError(f"{name}: tensors left on the meta device after loading")
    return model.eval().requires_grad_(False)


def load_task_discriminator(task: str, weights_dir: str | Path | None = None) -> ProjectedDiscriminatorXL:
    """The discriminator of a paper-scale preset, its two feature networks from the weights folder (`harness
    doctor`)."""
    from harness.presets import get_preset

    preset = get_preset(task)
    nets = {
        n: load_timm(
            n, preset.path(k, weights_dir), f"get them from {preset.weight(k).source} (`harness doctor --task {task}`)"
        )
        for n, k in ((DEIT, "gan_deit"), (EFFNET, "gan_effnet"))
    }
    return ProjectedDiscriminatorXL(nets[DEIT], nets[EFFNET])


# ----------------------------------------------------------------------------------------------
# frozen random projections and trainable heads
# ----------------------------------------------------------------------------------------------


def _reassemble(d: int) -> nn.ModuleList:
    """DPT reassemble of the four DeiT maps (14x14) to 56/28/14/7 with d/8, d/4, d/2, d channels."""
    c = [max(1, d // 8), max(1, d // 4), max(1, d // 2), d]
    return nn.ModuleList(
        [
            nn.Sequential(nn.Conv2d(d, c[0], 1), nn.ConvTranspose2d(c[0], c[0], 4, stride=4)),
            nn.Sequential(nn.Conv2d(d, c[1], 1), nn.ConvTranspose2d(c[1], c[1], 2, stride=2)),
            nn.Conv2d(d, c[2], 1),
            nn.Sequential(nn.Conv2d(d, c[3], 1), nn.Conv2d(c[3], c[3], 3, stride=2, padding=1)),
        ]
    )


class _Projector(nn.Module):
    """CCM (1x1 convs) then CSM (coarse-to-fine: add, bilinear x2 with align_corners, 1x1 conv); random, frozen."""

    def __init__(self, channels: list[int]):
        super().__init__()
        mixed = [COUT, COUT * 2, COUT * 4, COUT * 8]
        self.ccm = nn.ModuleList(nn.Conv2d(ci, co, 1) for ci, co in zip(channels, mixed))
        self.csm = nn.ModuleList(
            nn.Conv2d(c, c // 2 if i else c, 1) for i, c in enumerate(mixed)
        )  # level 0 keeps width
        self.channels = [COUT, COUT, COUT * 2, COUT * 4]

    def forward(self, maps: list[Tensor]) -> list[Tensor]:
        mixed = [conv(m) for conv, m in zip(self.ccm, maps)]
        out, prev = [None] * 4, None
        for i in reversed(range(4)):
            x = mixed[i] if prev is None else mixed[i] + prev
            prev = out[i] = self.csm[i](F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))
        return out


def _head(cin: int, start: int) -> nn.Sequential:
    """StyleGAN-XL SingleDisc: DownBlocks from `start` to 8, then a 4x4 conv to one logit per 4x4 window."""
    layers, sz, c = [], start, cin
    while sz > 8:
        layers += [spectral_norm(nn.Conv2d(c, NFC[sz // 2], 4, 2, 1)), nn.BatchNorm2d(NFC[sz // 2]), nn.LeakyReLU(0.2)]
        sz, c = sz // 2, NFC[sz // 2]
    return nn.Sequential(*layers, spectral_norm(nn.Conv2d(c, 1, 4, 1, 0, bias=False)))


class ProjectedDiscriminatorXL(nn.Module):
    """Drop-in for methods.gan.ProjectedDiscriminator: `.heads` trainable, forward([-1, 1] images) -> [B, P] logits.

    The pretrained networks are left out of state_dict() (checkpoints hold heads and projections only: they
    are frozen official weights, ~90M parameters, reloaded from their files) and kept on load."""

    def __init__(self, deit: nn.Module, effnet: nn.Module, seed: int = 0):
        super().__init__()
        self.pretrained = nn.ModuleDict({"deit": deit, "effnet": effnet}).eval().requires_grad_(False)
        info = {f["module"]: f["num_chs"] for f in effnet.feature_info}
        eff_ch = [info[f"blocks.{i}"] for i in EFFNET_TAPS]
        with torch.random.fork_rng(devices=[]):  # the random projections do not depend on (or move) the global RNG
            torch.manual_seed(seed)
            self.reassemble = _reassemble(deit.embed_dim)
            d = deit.embed_dim
            self.proj = nn.ModuleDict(
                {"deit": _Projector([max(1, d // 8), max(1, d // 4), max(1, d // 2), d]), "effnet": _Projector(eff_ch)}
            )
            self.heads = nn.ModuleList(
                _head(c, s) for name in ("deit", "effnet") for c, s in zip(self.proj[name].channels, SIZES)
            )
        self.reassemble.requires_grad_(False)
        self.proj.requires_grad_(False)
        self.register_state_dict_post_hook(_drop_pretrained)
        self.register_load_state_dict_pre_hook(_keep_pretrained)
        self.train()

    def train(self, mode: bool = True) -> ProjectedDiscriminatorXL:
        super().train(mode)
        for m in (self.pretrained, self.reassemble, self.proj):  # frozen parts always in eval mode
            m.eval()
        return self

    def _maps(self, name: str, x: Tensor) -> list[Tensor]:
        net = self.pretrained[name]
        if name == "deit":
            maps = net.forward_intermediates(
                x, indices=list(DEIT_HOOKS), intermediates_only=True
            )  # prefix tokens dropped
            return [r(m) for r, m in zip(self.reassemble, maps)]
        maps, x = [], net.bn1(net.conv_stem(x))
        for i, stage in enumerate(net.blocks):
            x = stage(x)
            if i in EFFNET_TAPS:
                maps.append(x)
        return maps

    def forward(self, images: Tensor) -> Tensor:
        x01 = (images.to(self.heads[0][-1].weight_orig.dtype) + 1) / 2  # in the discriminator's dtype
        logits = []
        for name, timm_name in (("deit", DEIT), ("effnet", EFFNET)):  # StyleGAN-XL's backbone order
            mean, std = (torch.tensor(v, device=x01.device, dtype=x01.dtype).view(1, 3, 1, 1) for v in NORM[timm_name])
            x = (x01 - mean) / std
            if name == "deit" or min(x.shape[-2:]) < 224:
                x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
            maps = self.proj[name](self._maps(name, x))
            heads = self.heads[:4] if name == "deit" else self.heads[4:]
            logits += [h(m).flatten(1) for h, m in zip(heads, maps)]
        return torch.cat(logits, 1)


def _drop_pretrained(module, state_dict, prefix, local_metadata) -> None:
    for k in [k for k in state_dict if k.startswith(prefix + "pretrained.")]:
        del state_dict[k]


def _keep_pretrained(module, state_dict, prefix, *_args) -> None:
    for k, v in module.pretrained.state_dict(prefix=prefix + "pretrained.", keep_vars=True).items():
        state_dict.setdefault(k, v)
