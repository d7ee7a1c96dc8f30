"""disable_pretrained: one switch for benchmarks (student + teachers) and inference (student)."""
from sakbox.utils.pretrained import disable_pretrained


def _cfg():
    return dict(init_cfg=dict(type='Pretrained'),
                student=dict(pretrained=True, vit_checkpoint='a.pth'),
                teachers=dict(t=dict(pretrained=True, checkpoint='b.pth', init_cfg=dict())))


def test_disable_pretrained_clears_student_and_teachers():
    cfg = _cfg()
    disable_pretrained(cfg)
    assert 'init_cfg' not in cfg
    assert cfg['student'] == dict(pretrained=False, vit_checkpoint=None)
    assert cfg['teachers']['t']['pretrained'] is False
    assert cfg['teachers']['t']['checkpoint'] is None


def test_disable_pretrained_can_keep_the_teachers():
    cfg = _cfg()
    disable_pretrained(cfg, teachers=False)
    assert 'init_cfg' not in cfg
    assert cfg['student'] == dict(pretrained=False, vit_checkpoint=None)
    assert cfg['teachers']['t'] == dict(pretrained=True, checkpoint='b.pth', init_cfg=dict())
