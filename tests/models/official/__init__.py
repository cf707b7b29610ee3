"""Shrunken re-creations of the official video-SALMONN 2 module trees, for the parity tests.

Written from a reading of bytedance/video-SALMONN-2 (61faec0): the 2+ ``video_SALMONN2_plus``
(``qwenvl/model/modeling_qwen2_5_vl.py``, ``modeling_whisper.py``, ``modeling_bert.py``,
``qwenvl/data/dataset.py``, ``rope2d.py``) and the first release's ``VideoSALMONN2ForCausalLM``
(``llava/model/language_model/video_salmonn_2.py``, ``llava_arch.py``, ``siglip_encoder_flash.py``,
``llava/dataset/av_dataset.py``, ``preprocess_utils.py``). Same module names and parameter names
as the releases (so their checkpoints load with ``load_state_dict(strict=True)``), the same
computations written out plainly -- no code copied, and none of avcap's model code used: the
decoder, Whisper encoder, BERT Q-Former, SigLIP, M-RoPE, input layouts and position ids are
written here; only the Qwen2.5-VL vision tower is transformers' own class (the release's file is
a copy of it), run with eager attention rather than avcap's varlen path.
"""
