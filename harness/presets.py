"""Paper-scale task presets: `imagenet` (MaskGIT v1 teacher) and `t2i` (MaskGen-L teacher).

Hyper-parameters come from the FPD paper §4 "Implementation Details" (AdamW, lr 1e-5, batch 32
for MaskGIT and 64 for MaskGen-L, DINOv3 ViT-B/16 blocks {2,5,8,11}, bandwidths {0.02,0.05,0.2})
and, where the paper is silent, from docs/references/teachers.md and drift.md (r_init 0.95 is from
an unofficial transcription, marked UNVERIFIED there; the 4x4 grid is the paper's Table 4b). Each preset names the
weight files it needs, where they sit under the weights folder and where to get them; nothing is
ever downloaded by the harness.

The weights folder is `--weights-dir`, else $FPD_WEIGHTS_DIR, else ~/.cache/fpd-harness/weights.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.errors import HarnessError

ENV_WEIGHTS_DIR = "FPD_WEIGHTS_DIR"
DEFAULT_WEIGHTS_DIR = Path.home() / ".cache" / "fpd-harness" / "weights"


@dataclass(frozen=True)
class WeightFile:
    """One file (or HF-style folder) a preset needs."""

    key: str  # name used by code: preset.path("maskgit_transformer", dir)
    relpath: str  # location under the weights folder
    description: str
    source: str  # where to get it (HF repo + file, or URL), shown by `harness doctor`
    purpose: str = "train"  # "train" | "eval" | "gan"
    kind: str = "file"  # "file" | "dir" (dir: must hold the files in `dir_files`)
    dir_files: tuple[str, ...] = ()
    optional: bool = False
    sha256: str | None = None  # official digest where it is published (mismatch = not the official file)
    fixture: str = ""  # how `harness.networks.fixtures` makes a random stand-in
    hf_repo: str | None = None  # also looked up in the local HF cache (never downloaded)
    hf_file: str | None = None


@dataclass(frozen=True)
class TeacherSamplerDefaults:
    steps: int
    guidance: float
    schedule: str  # MaskGIT "arccos" (adap_sche) / MaskGen "arccos-floor"
    gumbel_temperature: float  # MaskGIT r_temp / MaskGen randomize_temperature
    softmax_temperature: float  # MaskGIT sm_temp (multiplies logits) / MaskGen annealing on
    guidance_ramp: str  # MaskGIT "linear" (w*i/(N-1)) / MaskGen "cosine"
    note: str = ""


@dataclass(frozen=True)
class TaskPreset:
    name: str
    teacher: str  # network kind of the teacher
    tokenizer: str
    num_tokens: int
    codebook_size: int
    image_size: int
    cond: str  # "class" | "text"
    batch_size: int
    lr: float
    optimizer: str
    r_init: float
    bandwidths: tuple[float, ...]
    feature_backbone: str
    feature_blocks: tuple[int, ...]
    feature_grid: int
    teacher_sampler: TeacherSamplerDefaults
    weights: tuple[WeightFile, ...] = field(default_factory=tuple)
    data: str = ""
    notes: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def weight(self, key: str) -> WeightFile:
        for w in self.weights:
            if w.key == key:
                return w
        raise HarnessError(f"preset {self.name!r} has no weight file {key!r}; known: {[w.key for w in self.weights]}")

    def path(self, key: str, weights_dir: str | Path | None = None) -> Path:
        """Where `key` lives: under the weights folder, else in the local HF cache if it is there."""
        w = self.weight(key)
        p = resolve_weights_dir(weights_dir) / w.relpath
        if not p.exists():
            cached = hf_cache_path(w)
            if cached is not None:
                return cached
        return p


def resolve_weights_dir(weights_dir: str | Path | None = None) -> Path:
    """--weights-dir, else $FPD_WEIGHTS_DIR, else ~/.cache/fpd-harness/weights."""
    if weights_dir:
        return Path(weights_dir).expanduser()
    env = os.environ.get(ENV_WEIGHTS_DIR)
    return Path(env).expanduser() if env else DEFAULT_WEIGHTS_DIR


def hf_cache_path(w: WeightFile) -> Path | None:
    """The file (or the folder of a dir entry) in the local HF hub cache, without any network access."""
    if not w.hf_repo:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    name = w.hf_file or (w.dir_files[0] if w.dir_files else None)
    if name is None:
        return None
    try:
        hit = try_to_load_from_cache(w.hf_repo, name)
    except Exception:
        return None
    if not isinstance(hit, str):
        return None
    hit_path = Path(hit)
    if w.kind == "dir":
        folder = hit_path.parent
        return folder if all((folder / f).exists() for f in w.dir_files) else None
    return hit_path


def locate(w: WeightFile, weights_dir: str | Path | None = None) -> Path | None:
    """Where `w` is on this machine (the weights folder, else the local HF cache), complete; None if absent.

    A dir entry counts only with every file of `dir_files` in it."""
    p = resolve_weights_dir(weights_dir) / w.relpath
    if w.kind == "dir":
        if p.is_dir() and all((p / f).is_file() for f in w.dir_files):
            return p
    elif p.is_file():
        return p
    return hf_cache_path(w)


def file_record(path: Path, weights_dir: str | Path | None = None) -> dict:
    """Which file (or folder) a result was made with: its path, under the weights folder when it is there, and its
    size in bytes (None when absent)."""
    root = resolve_weights_dir(weights_dir)
    if path.is_dir():
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    else:
        size = path.stat().st_size if path.exists() else None
    return {"path": str(path.relative_to(root)) if path.is_relative_to(root) else str(path), "bytes": size}


_DINOV3 = WeightFile(
    key="dinov3",
    relpath="dinov3-vitb16-pretrain-lvd1689m",
    kind="dir",
    dir_files=("config.json", "model.safetensors"),
    description="DINOv3 ViT-B/16 feature backbone (transformers DINOv3ViTModel folder)",
    source="HF facebook/dinov3-vitb16-pretrain-lvd1689m (gated: accept the DINOv3 license, then "
    "`huggingface-cli download facebook/dinov3-vitb16-pretrain-lvd1689m --local-dir "
    "<weights>/dinov3-vitb16-pretrain-lvd1689m`)",
    fixture="dinov3_dir",
    hf_repo="facebook/dinov3-vitb16-pretrain-lvd1689m",
)

_GAN_NETS = (
    WeightFile(
        key="gan_deit",
        relpath="gan/deit_base_distilled_patch16_224.safetensors",
        purpose="gan",
        optional=True,
        description="timm deit_base_distilled_patch16_224 (projected-GAN discriminator features)",
        source="HF timm/deit_base_distilled_patch16_224.fb_in1k, file model.safetensors "
        "(put it at gan/deit_base_distilled_patch16_224.safetensors "
        "or leave it in the HF cache); read only with --set gan=true",
        fixture="timm_deit",
        hf_repo="timm/deit_base_distilled_patch16_224.fb_in1k",
        hf_file="model.safetensors",
    ),
    WeightFile(
        key="gan_effnet",
        relpath="gan/tf_efficientnet_lite0.safetensors",
        purpose="gan",
        optional=True,
        description="timm tf_efficientnet_lite0 (projected-GAN discriminator features)",
        source="HF timm/tf_efficientnet_lite0.in1k, file model.safetensors "
        "(put it at gan/tf_efficientnet_lite0.safetensors "
        "or leave it in the HF cache); read only with --set gan=true",
        fixture="timm_effnet",
        hf_repo="timm/tf_efficientnet_lite0.in1k",
        hf_file="model.safetensors",
    ),
)

IMAGENET = TaskPreset(
    name="imagenet",
    teacher="maskgit_transformer",
    tokenizer="vqgan",
    num_tokens=256,
    codebook_size=1024,
    image_size=256,
    cond="class",
    batch_size=32,
    lr=1e-5,
    optimizer="adamw",
    r_init=0.95,
    bandwidths=(0.02, 0.05, 0.2),
    feature_backbone="dinov3",
    feature_blocks=(2, 5, 8, 11),
    feature_grid=4,
    teacher_sampler=TeacherSamplerDefaults(
        steps=16,
        guidance=3.0,
        schedule="arccos",
        gumbel_temperature=4.5,
        softmax_temperature=1.0,
        guidance_ramp="linear",
        note="MaskGIT-pytorch v1 main.py defaults (w 3, r_temp 4.5, sm_temp 1); FPD's 16-step row; "
        "which w FPD used is UNVERIFIED (docs/references/teachers.md §1.3)",
    ),
    weights=(
        WeightFile(
            key="maskgit_transformer",
            relpath="maskgit/MaskGIT_ImageNet_256.pth",
            description="MaskGIT-pytorch v1 transformer (174.2M params)",
            source="HF llvictorll/Maskgit-pytorch, file pretrained_maskgit/MaskGIT/MaskGIT_ImageNet_256.pth",
            fixture="maskgit_transformer",
            hf_repo="llvictorll/Maskgit-pytorch",
            hf_file="pretrained_maskgit/MaskGIT/MaskGIT_ImageNet_256.pth",
        ),
        WeightFile(
            key="vqgan",
            relpath="maskgit/VQGAN/last.ckpt",
            description="taming VQGAN f16 1024 codes (72.1M params), Lightning checkpoint",
            source="HF llvictorll/Maskgit-pytorch, file pretrained_maskgit/VQGAN/last.ckpt",
            fixture="vqgan",
            hf_repo="llvictorll/Maskgit-pytorch",
            hf_file="pretrained_maskgit/VQGAN/last.ckpt",
        ),
        WeightFile(
            key="vqgan_yaml",
            relpath="maskgit/VQGAN/model.yaml",
            optional=True,
            description="taming model.yaml of the VQGAN (checked against the built config when present)",
            source="HF llvictorll/Maskgit-pytorch, file pretrained_maskgit/VQGAN/model.yaml",
            fixture="vqgan_yaml",
            hf_repo="llvictorll/Maskgit-pytorch",
            hf_file="pretrained_maskgit/VQGAN/model.yaml",
        ),
        _DINOV3,
        WeightFile(
            key="inception",
            relpath="eval/weights-inception-2015-12-05-6726825d.pth",
            purpose="eval",
            description="torch-fidelity inception-v3-compat weights (FID/IS/P/R features)",
            source="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
            fixture="inception",
        ),
        WeightFile(
            key="adm_ref_batch",
            relpath="eval/VIRTUAL_imagenet256_labeled.npz",
            purpose="eval",
            description="ADM ImageNet-256 reference batch (FID statistics, P/R reals)",
            source="https://openaipublic.blob.core.windows.net/diffusion/jul-2021/ref_batches/imagenet/256/VIRTUAL_imagenet256_labeled.npz",
            fixture="adm_ref_batch",
        ),
    )
    + _GAN_NETS,
    data="ImageNet-1k class labels (data-free distillation: labels sampled uniformly; real images only for the GAN)",
    notes="paper §4: AdamW lr 1e-5, batch 32 for MaskGIT; DINOv3 ViT-B/16 blocks {2,5,8,11}, "
    "bandwidths {0.02,0.05,0.2}",
)

T2I = TaskPreset(
    name="t2i",
    teacher="maskgen",
    tokenizer="tatitok",
    num_tokens=128,
    codebook_size=8192,
    image_size=256,
    cond="text",
    batch_size=64,
    lr=1e-5,
    optimizer="adamw",
    r_init=0.95,
    bandwidths=(0.02, 0.05, 0.2),
    feature_backbone="dinov3",
    feature_blocks=(2, 5, 8, 11),
    feature_grid=4,
    teacher_sampler=TeacherSamplerDefaults(
        steps=16,
        guidance=12.0,
        schedule="arccos-floor",
        gumbel_temperature=2.0,
        softmax_temperature=1.0,
        guidance_ramp="cosine",
        note="1d-tokenizer README call: guidance 12, randomize_temperature 2, aesthetic 6.5, "
        "softmax temperature annealing 0.5+0.8(1-r) (MaskGen_VQ.generate)",
    ),
    weights=(
        WeightFile(
            key="maskgen",
            relpath="maskgen/maskgen_vq_l.bin",
            description="MaskGen-L VQ generator (~0.60B params), raw state_dict",
            source="HF fun-research/TA-TiTok, file maskgen_vq_l.bin "
            "(or the folder of HF turkeyju/generator_maskgen_vq_l)",
            fixture="maskgen",
            hf_repo="fun-research/TA-TiTok",
            hf_file="maskgen_vq_l.bin",
        ),
        WeightFile(
            key="tatitok",
            relpath="maskgen/tatitok_bl128_vq.bin",
            description="TA-TiTok bl128 VQ tokenizer (128 tokens, 8192 codes), raw state_dict",
            source="HF fun-research/TA-TiTok, file tatitok_bl128_vq.bin (or HF turkeyju/tokenizer_tatitok_bl128_vq)",
            fixture="tatitok",
            hf_repo="fun-research/TA-TiTok",
            hf_file="tatitok_bl128_vq.bin",
        ),
        WeightFile(
            key="clip_text",
            relpath="clip/ViT-L-14-336/open_clip_pytorch_model.bin",
            description="OpenAI CLIP ViT-L-14-336 (text tower used), open_clip format",
            source="HF timm/vit_large_patch14_clip_336.openai, file open_clip_pytorch_model.bin "
            "(the OpenAI ViT-L-14-336px.pt TorchScript file also loads)",
            fixture="clip_text",
            hf_repo="timm/vit_large_patch14_clip_336.openai",
            hf_file="open_clip_pytorch_model.bin",
        ),
        _DINOV3,
        # GenEval (harness.paper_suites.suite_files lists what each detector choice reads; doctor checks that list)
        WeightFile(
            key="geneval_metadata",
            relpath="eval/geneval/evaluation_metadata.jsonl",
            purpose="eval",
            description="GenEval prompt metadata (553 prompts; `harness eval --metadata` overrides it)",
            source="github djghosh13/geneval, file prompts/evaluation_metadata.jsonl",
            fixture="geneval_metadata",
        ),
        WeightFile(
            key="mask2former_hf",
            relpath="eval/mask2former-swin-small-coco-instance",
            purpose="eval",
            kind="dir",
            dir_files=("config.json", "preprocessor_config.json", "model.safetensors"),
            description="GenEval detector for --detector mask2former-hf: Mask2Former Swin-S COCO "
            "instance, transformers folder; NOT GenEval's mmdet weights (results say so)",
            source="HF facebook/mask2former-swin-small-coco-instance (`huggingface-cli download "
            "facebook/mask2former-swin-small-coco-instance --local-dir "
            "<weights>/eval/mask2former-swin-small-coco-instance`)",
            fixture="mask2former_hf",
            hf_repo="facebook/mask2former-swin-small-coco-instance",
        ),
        WeightFile(
            key="mask2former",
            relpath="eval/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.pth",
            purpose="eval",
            optional=True,
            description="GenEval's own detector for --detector mmdet (mmdet 2.x Mask2Former Swin-S; needs mmdet 2.x "
            "and mmcv-full 1.7 installed)",
            source="https://download.openmmlab.com/mmdetection/v2.0/mask2former/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco/"
            "mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco_20220504_001756-743b7d99.pth",
        ),
        WeightFile(
            key="geneval_clip",
            relpath="clip/ViT-L-14/open_clip_pytorch_model.bin",
            purpose="eval",
            description="OpenAI CLIP ViT-L/14, both towers, open_clip format (GenEval colour classifier)",
            source="HF timm/vit_large_patch14_clip_224.openai, file open_clip_pytorch_model.bin "
            "(OpenAI's TorchScript ViT-L-14.pt, sha256 "
            "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836, "
            "also loads from this path)",
            fixture="geneval_clip",
            hf_repo="timm/vit_large_patch14_clip_224.openai",
            hf_file="open_clip_pytorch_model.bin",
        ),
    )
    + _GAN_NETS,
    data="captions (LAION-style prompt files, one per line, or a `datasets` text column); real images only for the GAN",
    notes="paper §4: AdamW lr 1e-5, batch 64 for MaskGen-L; r_init 0.95 from an unofficial transcription (UNVERIFIED)",
)

PRESETS: dict[str, TaskPreset] = {p.name: p for p in (IMAGENET, T2I)}


def get_preset(name: str) -> TaskPreset:
    if name not in PRESETS:
        raise HarnessError(f"unknown task {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
