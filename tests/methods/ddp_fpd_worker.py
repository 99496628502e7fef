"""Worker for the DDP equivalence test: a few FPD steps on tiny random networks; rank 0 saves the student.

Run as `python ddp_fpd_worker.py OUT` (one process) or under `torchrun --nproc_per_node 2`.
"""

import copy
import sys

import torch
from safetensors.torch import save_file

from harness import distributed as D
from harness.networks.shapes_backbone import BackboneConfig, FrozenBackbone, ShapesBackbone
from harness.networks.shapes_transformer import ShapesMaskTransformer, TransformerConfig
from harness.networks.shapes_vq import ShapesVQ, VQConfig
from harness.trainers.common import shapes_conditions
from methods.fpd import FPD, FPDConfig
from methods.rng import SeedStreams

torch.set_num_threads(1)
D.init()
torch.manual_seed(0)
tok = ShapesVQ(VQConfig(channels=16, codebook_size=32, code_dim=8)).eval().requires_grad_(False)
teacher = (
    ShapesMaskTransformer(TransformerConfig(codebook_size=32, width=32, depth=1, heads=2)).eval().requires_grad_(False)
)
backbone = FrozenBackbone(ShapesBackbone(BackboneConfig(widths=(8, 8, 8, 8))))
student = copy.deepcopy(teacher).train().requires_grad_(True)
model = torch.nn.parallel.DistributedDataParallel(student) if D.world() > 1 else student
method = FPD(model, teacher, tok, backbone, FPDConfig())
opt = torch.optim.SGD(student.parameters(), lr=0.5)
batch = 8
local = D.local_slice(batch)
gather = D.all_gather_cat if D.world() > 1 else None
for step in range(3):
    seeds = SeedStreams.derive(0, step, range(batch))[local]
    loss, logs, _ = method.loss(
        shapes_conditions("shapes", seeds), seeds, gather=gather, local=local if gather else None
    )
    opt.zero_grad()
    loss.backward()
    opt.step()
if D.is_main():
    out = {k: v.contiguous() for k, v in student.state_dict().items()}
    out.update({f"init.{k}": v.contiguous() for k, v in teacher.state_dict().items()})
    save_file(out, sys.argv[1])
