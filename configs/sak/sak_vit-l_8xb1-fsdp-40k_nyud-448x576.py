# sak_vit-l_8xb1-40k_nyud-448x576.py trained with FSDP (MMEngine FlexibleRunner + FSDPStrategy): the
# student's parameters, gradients and AdamW state are sharded over the GPUs; every
# timm ViT block and every SAK bottleneck adapter is one FSDP unit (auto-wrap by class
# name, sakbox.utils.fsdp.module_class_wrap_policy), the rest (patch embedding, norms,
# routers, heads) lives in the root unit. See docs/distributed.md.
#   bash tools/dist_train.sh configs/sak/sak_vit-l_8xb1-fsdp-40k_nyud-448x576.py 8
# The frozen teachers are outside the model's module tree, so FSDP neither wraps nor
# shards them: each GPU holds a full copy.
_base_ = ['./sak_vit-l_8xb1-40k_nyud-448x576.py']
runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel',
        auto_wrap_policy=dict(type='sakbox.module_class_wrap_policy',
                              class_names=['Block', 'BottleneckAdapter']),
        sharding_strategy='FULL_SHARD',
        use_orig_params=True),  # keeps parameter names for paramwise_cfg / checkpoints
    # one full state dict on rank 0 in the checkpoints (loadable without FSDP)
    state_dict_cfg='full')
# Caveat: the recipe's gradient clipping (max_norm=10) goes through MMEngine's
# OptimWrapper, i.e. torch.nn.utils.clip_grad_norm_, which under FSDP sees only this
# rank's gradient shards: each rank clips with its local norm (<= the global one), so
# clipping is weaker than with DDP. See docs/distributed.md.
