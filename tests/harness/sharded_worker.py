"""Worker for the sharded-sampling test: tiny random teacher, run_sharded over seeds 0..29 into argv[1]."""

import sys

import numpy as np
import torch

from harness import distributed as D
from harness.networks.shapes_transformer import ShapesMaskTransformer, TransformerConfig
from harness.networks.shapes_vq import ShapesVQ, VQConfig
from harness.sampling import run_sharded
from methods.teacher_sampler import TeacherSampler, TeacherSamplerConfig


def make_generator():
    torch.manual_seed(0)
    tok = ShapesVQ(VQConfig(channels=16, codebook_size=32, code_dim=8)).eval()
    teacher = ShapesMaskTransformer(TransformerConfig(codebook_size=32, width=32, depth=1, heads=2)).eval()
    return TeacherSampler(teacher, tok, TeacherSamplerConfig(steps=3, w=1.0))


def process(images, chunk):
    return {"pixels": images.reshape(len(chunk), -1).numpy().astype(np.int16)}


def cond_of(chunk):
    return torch.tensor([s % 24 for s in chunk])


if __name__ == "__main__":
    torch.set_num_threads(1)
    D.init()
    run_sharded(sys.argv[1], list(range(30)), cond_of, make_generator().generate, process, batch=int(sys.argv[2]))
