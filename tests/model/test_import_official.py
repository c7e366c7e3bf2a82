"""`unav import-checkpoint` on a file in the exact official layout (every name and shape of
shared/reference/unav_official_state_dict.tsv, `module.` prefix, state_dict + state_dict_ema)."""
import pytest
import torch

from reference.official_checkpoint import fake_official, official_layout
from reference.official_unav import OfficialUnAV
from unav.cli import main
from unav.model.checkpoint import load_checkpoint, model_from_checkpoint


@pytest.fixture(scope="module")
def layout(shared_dir):
    return official_layout(shared_dir)


def test_import_then_outputs_equal_the_official_math(layout, tmp_path, unav100_annotations):
    src = tmp_path / "unav_official.pth.tar"
    raw = fake_official(layout)
    torch.save(raw, src)
    out = tmp_path / "ours.pt"
    assert main(["import-checkpoint", str(src), "--out", str(out), "--annotations", str(unav100_annotations)]) == 0
    ckpt = load_checkpoint(out)
    assert len(ckpt["classes"]) == 100 and ckpt["classes"][0] != "class_0"
    model, which = model_from_checkpoint(ckpt)
    assert which == "ema"
    ref = OfficialUnAV().eval()
    ref.load_state_dict({k[len("module."):]: v for k, v in raw["state_dict_ema"].items()})
    g = torch.Generator().manual_seed(1)
    t, n = 224, 150
    mask = torch.arange(t)[None] < n
    v = torch.randn(1, 2048, t, generator=g) * mask
    a = torch.randn(1, 128, t, generator=g) * mask
    with torch.no_grad():
        ours = model(v, a, mask)
        cls, off, _ = ref(v, a, mask[:, None])
    for level in range(6):
        torch.testing.assert_close(ours["cls_logits"][level], cls[level], rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(ours["offsets"][level], off[level], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("edit, needle", [
    (lambda s: s.pop("backbone.cross_att_Va.3.attn.proj.bias"), "missing tensor backbone.cross_att_Va.3.attn.proj.bias"),
    (lambda s: s.__setitem__("cls_head.norm.0.weight", torch.ones(1, 256, 1)),
     "tensor cls_head.norm.0.weight has shape (1, 256, 1), expected (1, 512, 1)"),
    (lambda s: s.__setitem__("backbone.extra.weight", torch.ones(3)), "unexpected tensor backbone.extra.weight"),
])
def test_import_refuses_a_wrong_layout_naming_the_tensor(layout, tmp_path, edit, needle, capsys):
    src = tmp_path / "bad.pth.tar"
    torch.save(fake_official(layout, edit=edit), src)
    out = tmp_path / "ours.pt"
    assert main(["import-checkpoint", str(src), "--out", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_import_refuses_keys_without_the_dataparallel_prefix(tmp_path, capsys):
    src = tmp_path / "plain.pth.tar"
    torch.save({"state_dict": {"backbone.embd_V.0.conv.weight": torch.zeros(1)}}, src)
    assert main(["import-checkpoint", str(src), "--out", str(tmp_path / "o.pt")]) == 2
    assert "module." in capsys.readouterr().err
