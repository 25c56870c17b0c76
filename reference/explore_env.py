"""One-off probe of the GPU machine's transformers install (dumps sources + save_pretrained key names)."""
import inspect, json, os, sys, traceback
out = os.environ.get("OUT", "/tmp/out")
os.makedirs(out, exist_ok=True)
import torch, transformers
import transformers.models.deepseek_v4 as m
from transformers.models.deepseek_v4 import modeling_deepseek_v4 as md, configuration_deepseek_v4 as mc
info = {"torch": torch.__version__, "transformers": transformers.__version__, "file": m.__file__,
        "cuda": torch.cuda.is_available(), "py": sys.version}
d = os.path.dirname(m.__file__)
import tarfile
with tarfile.open(os.path.join(out, "src.tgz"), "w:gz") as tf:
    tf.add(d, arcname="deepseek_v4")
    import transformers.modeling_rope_utils as ru
    tf.add(ru.__file__, arcname="modeling_rope_utils.py")
    import transformers.conversion_mapping as cm
    tf.add(cm.__file__, arcname="conversion_mapping.py")
    import transformers.masking_utils as mu
    tf.add(mu.__file__, arcname="masking_utils.py")
    import transformers.cache_utils as cu
    tf.add(cu.__file__, arcname="cache_utils.py")
    try:
        import transformers.core_model_loading as cml
        tf.add(cml.__file__, arcname="core_model_loading.py")
    except Exception as e:
        info["cml"] = repr(e)
    try:
        import transformers.integrations.finegrained_fp8 as f8
        tf.add(f8.__file__, arcname="finegrained_fp8.py")
        import transformers.quantizers.quantizer_finegrained_fp8 as q8
        tf.add(q8.__file__, arcname="quantizer_finegrained_fp8.py")
    except Exception as e:
        info["fp8"] = repr(e)
from transformers import PreTrainedModel
info["save_pretrained_sig"] = str(inspect.signature(PreTrainedModel.save_pretrained))
try:
    import tokenizers; info["tokenizers"] = tokenizers.__version__
except Exception as e:
    info["tokenizers"] = repr(e)
try:
    import numpy, safetensors; info["numpy"] = numpy.__version__; info["safetensors"] = safetensors.__version__
except Exception as e:
    info["np"] = repr(e)
info["fp_dtypes"] = [n for n in ("float8_e4m3fn", "float8_e8m0fnu", "float4_e2m1fn_x2") if hasattr(torch, n)]
try:
    cfg = transformers.DeepseekV4Config(vocab_size=64, hidden_size=64, num_hidden_layers=3, num_attention_heads=2,
        head_dim=32, q_lora_rank=32, o_groups=2, o_lora_rank=16, n_routed_experts=4, num_experts_per_tok=2,
        moe_intermediate_size=32, index_n_heads=2, index_head_dim=32, index_topk=2, sliding_window=8,
        compress_ratios=[0, 4, 128], num_hash_layers=1, qk_rope_head_dim=16, compress_rate_hca=8,
        rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "beta_fast": 32, "beta_slow": 1},
        max_position_embeddings=256)
    info["cfg"] = cfg.to_dict()
    model = transformers.DeepseekV4ForCausalLM(cfg)
    info["state_dict"] = {k: [list(v.shape), str(v.dtype)] for k, v in model.state_dict().items()}
    info["buffers"] = [k for k, _ in model.named_buffers()]
    info["rotary"] = {k: v.tolist() for k, v in model.model.rotary_emb.named_buffers()}
    model.save_pretrained(os.path.join("/tmp", "sp"))
    from safetensors import safe_open
    keys = {}
    for fn in os.listdir("/tmp/sp"):
        if fn.endswith(".safetensors"):
            with safe_open(os.path.join("/tmp/sp", fn), "pt") as f:
                for k in f.keys():
                    t = f.get_tensor(k); keys[k] = [list(t.shape), str(t.dtype)]
    info["saved_keys"] = keys
    info["saved_config"] = json.load(open("/tmp/sp/config.json"))
    m2 = transformers.DeepseekV4ForCausalLM.from_pretrained("/tmp/sp")
    ids = torch.randint(0, 64, (1, 20))
    with torch.no_grad():
        a = model(ids).logits; b = m2(ids).logits
    info["roundtrip_maxdiff"] = float((a - b).abs().max())
except Exception:
    info["err"] = traceback.format_exc()
json.dump(info, open(os.path.join(out, "info.json"), "w"), indent=1, default=str)
print(json.dumps({k: info[k] for k in info if k not in ("state_dict", "saved_keys", "cfg", "rotary")}, indent=1, default=str))
