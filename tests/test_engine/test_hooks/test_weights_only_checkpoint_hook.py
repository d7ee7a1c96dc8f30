"""WeightsOnlyCheckpointHook: round trip through torch.load(weights_only=True)."""
import numpy as np
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from sakbox.engine.hooks import WeightsOnlyCheckpointHook


def test_message_hub_round_trip(tmp_path):
    hub = MessageHub.get_instance('weights_only_test')
    for v in (1.0, 2.5, 4.0):
        hub.update_scalar('train/loss', v)
    hub.update_info('np_value', np.float64(3.5))
    ckpt = dict(meta=dict(iter=3, seed=np.int64(7), arr=np.arange(3)),
                message_hub=hub.state_dict(), state_dict={'w': torch.ones(2)})
    hook = WeightsOnlyCheckpointHook()
    hook.before_save_checkpoint(None, ckpt)
    torch.save(ckpt, tmp_path / 'c.pth')
    loaded = torch.load(tmp_path / 'c.pth', weights_only=True)  # must not raise
    assert loaded['meta']['seed'] == 7 and isinstance(loaded['meta']['seed'], int)
    hook.after_load_checkpoint(None, loaded)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == 2.5 and buffer.current() == 4.0
    hub2 = MessageHub.get_instance('weights_only_test2')
    hub2.load_state_dict(loaded['message_hub'])
    assert hub2.get_scalar('train/loss').current() == 4.0
