import torch
import torch.nn.functional as F

from methods.ste import route_embeddings


def test_forward_is_the_hard_embedding_bit_for_bit():
    torch.manual_seed(0)
    logits, E = torch.randn(3, 7, 11) * 4, torch.randn(11, 5)
    z = torch.distributions.Categorical(logits=logits).sample()
    e = route_embeddings(logits, E, z, "ste")
    assert torch.equal(e, F.embedding(z, E))


def test_gradient_equals_the_soft_path():
    torch.manual_seed(1)
    logits, E = torch.randn(2, 6, 9, requires_grad=True), torch.randn(9, 4)
    z = logits.detach().argmax(-1)
    w = torch.randn(2, 6, 4)
    (route_embeddings(logits, E, z, "ste") * w).sum().backward()
    g_ste = logits.grad.clone()
    logits.grad = None
    (route_embeddings(logits, E, z, "soft") * w).sum().backward()
    torch.testing.assert_close(g_ste, logits.grad)
    assert g_ste.abs().sum() > 0


def test_soft_forward_is_the_mixture():
    logits, E = torch.randn(1, 3, 4), torch.randn(4, 2)
    e = route_embeddings(logits, E, logits.argmax(-1), "soft")
    torch.testing.assert_close(e, logits.softmax(-1) @ E)
