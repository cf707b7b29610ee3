"""Training: data collators, the pure losses (:mod:`avcap.train.losses`) and recipes
(align, sft, dpo, mrdpo, negdpo, grpo) built on transformers / peft; pair building for MrDPO."""
