"""Router expert order across a config written back by MMEngine (``work_dir/<cfg>.py``).

MMEngine's ``Config.dump`` sorts dict keys, so ``teachers=dict(zeta=..., alpha=...)``
comes back as ``alpha, zeta``; the routers' experts follow the teachers' order
(``expert_names``). A checkpoint trained with one order and loaded into a model
built from the dumped config must predict the same: the order is saved with the
weights (``expert_order.<teacher>``) and the routers' experts are permuted on load.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from sakbox.registry import MODELS
from sakbox.utils.state_dict_fit import load_state_dict_checked

from .stubs import distiller_cfg

TINY_SAK = dict(type='SAKViT', arch='vit_base_patch16_384', pretrained=False, img_size=32,
                model_kwargs=dict(depth=2, embed_dim=32, num_heads=2), out_indices=(0, 1))


def _cfg(router=None, teachers=('zeta', 'alpha')):
    dims = dict(zeta=16, alpha=24, beta=8)
    student = dict(TINY_SAK, **({} if router is None else dict(router=router)))
    cfg = distiller_cfg(tasks=('semseg',), student=student,
                        decode_heads=dict(type='SAKHead'), build_teachers=False,
                        teachers={t: dict(type='StubTeacher', dim=dims[t]) for t in teachers},
                        teacher_dims={t: dims[t] for t in teachers})
    cfg['data_preprocessor'] = dict(type='MultiTaskDataPreProcessor')
    return cfg


def test_dumped_config_sorts_the_teachers(tmp_path):
    path = tmp_path / 'cfg.py'
    Config(dict(model=_cfg())).dump(str(path))
    assert list(Config.fromfile(str(path)).model.teachers) == ['alpha', 'zeta']


ROUTERS = [None, dict(type='MoRRouter', noisy_gating=False), dict(type='SpatialMoRRouter'),
           dict(type='SumRouter')]


@pytest.mark.parametrize('router', ROUTERS, ids=['default', 'mor', 'spatial', 'sum'])
def test_checkpoint_predicts_the_same_through_a_dumped_config(tmp_path, router):
    torch.manual_seed(0)
    trained = MODELS.build(_cfg(router)).eval()
    assert trained.expert_names == ['stem', 'zeta', 'alpha']
    sd = trained.state_dict()
    assert int(sd['expert_order.zeta']) == 1 and int(sd['expert_order.alpha']) == 2
    with torch.no_grad():  # trained-like routers: clearly non-uniform expert weights
        for module in trained.student.modules():
            if hasattr(module, 'mlp') and hasattr(module, 'num_experts'):
                module.mlp[-1].weight.normal_(0, 2.0)
                module.mlp[-1].bias.normal_(0, 1.0)
    path = osp.join(tmp_path, 'cfg.py')
    Config(dict(model=_cfg(router))).dump(path)
    reloaded = MODELS.build(Config.fromfile(path).model).eval()
    assert reloaded.expert_names == ['stem', 'alpha', 'zeta']
    reloaded.load_state_dict(trained.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want, got = trained(x, mode='tensor'), reloaded(x, mode='tensor')
    torch.testing.assert_close(got['semseg'], want['semseg'])
    # the loaded model records its own order (its next checkpoint is consistent)
    assert int(reloaded.state_dict()['expert_order.alpha']) == 1
    # and loading back into the original order is exact too
    back = MODELS.build(_cfg(router)).eval()
    back.load_state_dict(reloaded.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(back(x, mode='tensor')['semseg'], want['semseg'])


def test_checkpoint_without_a_recorded_order_loads_in_the_config_order():
    torch.manual_seed(0)
    trained = MODELS.build(_cfg()).eval()
    old = {k: v for k, v in trained.state_dict().items() if not k.startswith('expert_order.')}
    fresh = MODELS.build(_cfg()).eval()
    assert not fresh.load_state_dict(old, strict=True).missing_keys
    for k, v in trained.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    # also through the checked loader of tools/test.py / init_model (strict)
    checked = MODELS.build(_cfg()).eval()
    fit = load_state_dict_checked(checked, dict(state_dict=old), 'old.pth', strict=True)
    assert fit.complete and not fit.missing
    for k, v in trained.state_dict().items():
        assert torch.equal(checked.state_dict()[k], v), k


def test_checked_loader_reorders_a_checkpoint_of_another_order(tmp_path):
    torch.manual_seed(0)
    trained = MODELS.build(_cfg()).eval()
    swapped = MODELS.build(_cfg(teachers=('alpha', 'zeta'))).eval()
    load_state_dict_checked(swapped, dict(state_dict=trained.state_dict()), 'ckpt.pth')
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(swapped(x, mode='tensor')['semseg'],
                                   trained(x, mode='tensor')['semseg'])


def test_checkpoint_of_other_teachers_is_refused_naming_both_orders():
    trained = MODELS.build(_cfg(teachers=('zeta', 'alpha')))
    other = MODELS.build(_cfg(teachers=('zeta', 'beta')))
    with pytest.raises(RuntimeError, match=r"experts \['stem', 'zeta', 'alpha'\], this "
                                           r"model has \['stem', 'zeta', 'beta'\]"):
        other.load_state_dict(trained.state_dict(), strict=False)
