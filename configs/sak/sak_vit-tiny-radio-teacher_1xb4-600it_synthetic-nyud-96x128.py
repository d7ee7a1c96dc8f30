# CPU demo: the tiny SAK of sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py with a single,
# agglomerative teacher — a RADIO student (RADIOTeacher) instead of the DINOv2 / CLIP / SAM trio. Any
# RADIO checkpoint works: one trained in sakbox (give its training config) or a converted
# official release (tools/model_converters/radio_official_to_sakbox.py; no config needed).
# Here the tiny RADIO of configs/radio/radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py,
# trained first:
#   python tools/dataset_converters/make_synthetic_scenes.py --layout nyud --out data/synthetic_nyud
#   python tools/analysis_tools/compute_phi_s_stats.py \
#       configs/radio/radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py \
#       --out work_dirs/phi_s/radio-tiny_synthetic.pth --num-batches 20
#   python tools/train.py configs/radio/radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py
#   python tools/train.py configs/sak/sak_vit-tiny-radio-teacher_1xb4-600it_synthetic-nyud-96x128.py
# The teacher gives 4 levels (96-d, 1/8 of the input) of the RADIO model; its summary is
# unused by SAK. At test time no teacher is built (its widths come from the RADIO config).
_base_ = ['./sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py']
radio_config = '{{ fileDirname }}/../radio/radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py'
radio_checkpoint = 'work_dirs/radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48/iter_600.pth'
model = dict(
    teachers=dict(
        _delete_=True,
        radio=dict(type='RADIOTeacher', checkpoint=radio_checkpoint, config=radio_config)))
