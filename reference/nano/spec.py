"""baleen-nano's shape in make_fixtures' spec-dict form (torch-free, so the numpy reference can read it too)."""

NANO = dict(vocab=129280, D=256, L=9, H=4, d=128, r=32, q_lora=128, o_groups=2, o_lora=128, E=8, K=2, F=256,
            idx_heads=4, idx_dim=64, topk=16, window=128, ratios=[0, 0, 4, 16, 4, 16, 4, 16, 4], n_hash=2,
            swiglu=10.0, yarn=dict(factor=16, original_max_position_embeddings=65536, beta_fast=32, beta_slow=1),
            max_pos=1048576, storage="bf16")
# Candidate: V4's own head shape (d 512, RoPE on the trailing 64), a K=V vector 4x wider for attention to carry a
# value through. Tried beside v4's training on a shared GPU, it did not get a fair run (card, "Next").
# v5's shape (models/baleen-nano): a 256-token sliding window, so that a question's operands (~130-250 tokens before
# the second call's arguments) lie inside it rather than only in the compressed entries, which the nano copies
# from badly. v1-v4 and v5's 128-token sibling are "nano".
SHAPES = {"nano": NANO, "wide": dict(NANO, d=512, r=64), "w256": dict(NANO, window=256)}
