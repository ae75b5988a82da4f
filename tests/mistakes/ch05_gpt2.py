"""Chapter 5: slips in the pre-LN block, the parameter count, byte-level BPE, the checkpoint loader, top-k and
top-p filtering, and one decoding step with a KV cache."""

from mistakes import Mistake

BLOCK_ATTN = "        x = x + self.attn(self.ln_1(x), cache, layer)\n"
BLOCK_MLP = "        return x + self.mlp(self.ln_2(x))\n"
LN_1 = "        self.ln_1 = nn.LayerNorm(d_model, eps=eps)\n"
LN_2 = "        self.ln_2 = nn.LayerNorm(d_model, eps=eps)\n"
COUNT_RETURN = "    return embeddings + config.n_layers * (attention + mlp + layer_norms) + 2 * d\n"
RANGES = (
    '    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + '
    'list(range(ord("®"), ord("ÿ") + 1))\n'
)
TABLE_BODY = (
    RANGES
    + """    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))
"""
)
BEST = '        best = min(pairs, key=lambda pair: ranks.get(pair, float("inf")))\n'
MERGE_LOOP = """        merged, i = [], 0
        while i < len(parts):
            if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                merged.append(parts[i] + parts[i + 1])
                i += 2
            else:
                merged.append(parts[i])
                i += 1
        parts = merged
"""
BUFFERS = '    if key == "lm_head.weight" or key.endswith((".attn.bias", ".attn.masked_bias")):\n'
BLOCK_KEY = (
    '    if h != "h" or module not in HF_BLOCK_NAMES:\n        raise KeyError(f"{key!r} is not a GPT-2 tensor name")\n'
)
TRANSPOSE = "        if key.endswith(HF_CONV1D):\n            tensor = tensor.t()\n"
KTH = "    kth = torch.topk(logits, k, dim=-1).values[..., -1:]\n"
MASS = "    mass_before = torch.cumsum(probs, dim=-1) - probs\n"
UNSORT = "    remove = remove_sorted.scatter(-1, order, remove_sorted)\n"
CAT = """        if past is not None:
            k = torch.cat([past[l][0], k], dim=2)
            v = torch.cat([past[l][1], v], dim=2)
        new_past.append((k, v))
"""

MISTAKES = [
    # 1. the pre-LN block
    Mistake(
        "post-LN block (GPT-1's arrangement)",
        "block",
        (
            (
                BLOCK_ATTN + BLOCK_MLP,
                "        x = self.ln_1(x + self.attn(x, cache, layer))\n        return self.ln_2(x + self.mlp(x))\n",
            ),
        ),
        "test_block",
        ("normalise the input of each sub-layer",),
        rule="h + Attn(LN_1(h)), then h + MLP(LN_2(h))",
    ),
    Mistake(
        "the residual stream itself is normalised",
        "block",
        ((BLOCK_ATTN, "        x = self.ln_1(x)\n        x = x + self.attn(x, cache, layer)\n"),),
        "test_block",
        ("residual stream",),
        rule="the residual stream is only ever added to",
    ),
    Mistake(
        "ln_1 used before the MLP too",
        "block",
        ((BLOCK_MLP, "        return x + self.mlp(self.ln_1(x))\n"),),
        "test_block",
        ("mlp(ln_2(x))",),
        rule="h' + MLP(LN_2(h'))",
    ),
    Mistake(
        "block forgets `return`",
        "block",
        ((BLOCK_MLP, "        x = x + self.mlp(self.ln_2(x))\n"),),
        "test_block",
        ("return",),
    ),
    Mistake(
        "parts named ln1 / ln2",
        "block",
        (
            (LN_1, "        self.ln1 = nn.LayerNorm(d_model, eps=eps)\n"),
            (LN_2, "        self.ln2 = nn.LayerNorm(d_model, eps=eps)\n"),
            ("self.ln_1(x)", "self.ln1(x)"),
            ("self.ln_2(x)", "self.ln2(x)"),
        ),
        "test_block_rules",
        ("ln_1, attn, ln_2 and mlp",),
        rule="parts named ln_1, attn, ln_2, mlp",
    ),
    Mistake(
        "eps not passed to the LayerNorms",
        "block",
        ((LN_1, "        self.ln_1 = nn.LayerNorm(d_model)\n"), (LN_2, "        self.ln_2 = nn.LayerNorm(d_model)\n")),
        "test_block_rules",
        ("pass eps",),
        rule="both LayerNorms use eps",
    ),
    Mistake(
        "eps passed to one LayerNorm only",
        "block",
        ((LN_2, "        self.ln_2 = nn.LayerNorm(d_model)\n"),),
        "test_block_rules",
        ("both layernorms",),
        rule="both LayerNorms use eps",
    ),
    Mistake(
        "dropout not passed to the sub-layers",
        "block",
        (
            ("CausalSelfAttention(d_model, n_heads, dropout)", "CausalSelfAttention(d_model, n_heads)"),
            ("MLP(d_model, d_ff, dropout)", "MLP(d_model, d_ff)"),
        ),
        "test_block_rules",
        ("pass dropout on",),
        rule="attn and mlp get dropout",
    ),
    Mistake(
        "the block does not pass the cache on",
        "block",
        ((BLOCK_ATTN, "        x = x + self.attn(self.ln_1(x))\n"),),
        "test_block_rules",
        ("self.attn(self.ln_1(x), cache, layer)",),
        rule="cache and layer passed on to self.attn",
    ),
    Mistake(
        "the block passes the cache but not the layer",
        "block",
        ((BLOCK_ATTN, "        x = x + self.attn(self.ln_1(x), cache)\n"),),
        "test_block_rules",
        ("cache, layer",),
        rule="cache and layer passed on to self.attn",
    ),
    Mistake(
        "forward without the cache parameters",
        "block",
        (
            ("    def forward(self, x, cache=None, layer=0):", "    def forward(self, x):"),
            (BLOCK_ATTN, "        x = x + self.attn(self.ln_1(x))\n"),
        ),
        "test_block_rules",
        ("forward(self, x, cache=None, layer=0)",),
        rule="forward(x, cache=None, layer=0)",
    ),
    # 2. the parameter count
    Mistake(
        "count_parameters assumes d_ff = 4d",
        "count_parameters",
        (("    d, f = config.d_model, config.d_ff\n", "    d, f = config.d_model, 4 * config.d_model\n"),),
        "test_count_parameters_d_ff",
        ("config.d_ff",),
        rule="d_ff is the config's own field",
    ),
    Mistake(
        "count_parameters from the page's closed form n(12d^2 + 13d)",
        "count_parameters",
        ((COUNT_RETURN, "    return embeddings + config.n_layers * (12 * d * d + 13 * d) + 2 * d\n"),),
        "test_count_parameters_d_ff",
        ("config.d_ff",),
        rule="d_ff is the config's own field",
    ),
    Mistake(
        "count_parameters counts the tied output head",
        "count_parameters",
        ((COUNT_RETURN, COUNT_RETURN.rstrip("\n") + " + config.vocab_size * d\n"),),
        "test_count_parameters",
        ("tied",),
        rule="the tied head adds nothing",
    ),
    Mistake(
        "count_parameters forgets the final LayerNorm",
        "count_parameters",
        ((COUNT_RETURN, "    return embeddings + config.n_layers * (attention + mlp + layer_norms)\n"),),
        "test_count_parameters",
        ("final layernorm",),
        rule="the final LayerNorm (2d)",
    ),
    Mistake(
        "count_parameters forgets the attention's biases",
        "count_parameters",
        (("    attention = d * 3 * d + 3 * d + d * d + d\n", "    attention = d * 3 * d + d * d\n"),),
        "test_count_parameters",
        ("every bias",),
        rule="W_qkv (bias 3d), W^O (bias d)",
    ),
    Mistake(
        "count_parameters builds the model",
        "count_parameters",
        ((COUNT_RETURN, "    return sum(p.numel() for p in GPT2(config).parameters())\n"),),
        "test_count_parameters",
        ("do not build a model",),
        also_fails=("test_count_parameters_d_ff",),
        rule="do not build the model (a shortcut that must earn nothing: both cells)",
    ),
    Mistake(
        "count_parameters builds the model on the meta device",
        "count_parameters",
        (
            (
                COUNT_RETURN,
                "    with torch.device('meta'):\n        return sum(p.numel() for p in GPT2(config).parameters())\n",
            ),
        ),
        "test_count_parameters",
        ("do not build a model",),
        also_fails=("test_count_parameters_d_ff",),
        rule="do not build the model (a shortcut that must earn nothing: both cells)",
    ),
    # 3a. bytes as characters
    Mistake(
        "bytes_to_unicode maps byte b to chr(256 + b)",
        "bytes_to_unicode",
        (("            cs.append(256 + n)\n", "            cs.append(256 + b)\n"),),
        "test_bytes_to_unicode",
        ("chr(256 + n)",),
        rule="the n-th non-printable byte maps to chr(256 + n)",
    ),
    Mistake(
        "bytes_to_unicode's ranges exclude their ends",
        "bytes_to_unicode",
        (
            (
                RANGES,
                '    bs = list(range(ord("!"), ord("~"))) + list(range(ord("¡"), ord("¬"))) + '
                'list(range(ord("®"), ord("ÿ")))\n',
            ),
        ),
        "test_bytes_to_unicode",
        ("include both ends",),
        rule="three ranges, inclusive",
    ),
    Mistake(
        "bytes_to_unicode counts the space as printable",
        "bytes_to_unicode",
        (
            (
                RANGES,
                '    bs = list(range(ord(" "), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + '
                'list(range(ord("®"), ord("ÿ") + 1))\n',
            ),
        ),
        "test_bytes_to_unicode",
        ("the space and the control bytes included",),
        rule="188 printable bytes: '!' ... '~', ...",
    ),
    Mistake(
        "bytes_to_unicode copies OpenAI's table from load_gpt2_bpe",
        "bytes_to_unicode",
        ((TABLE_BODY, "    return dict(load_gpt2_bpe().byte_encoder)\n"),),
        "test_bytes_to_unicode",
        ("do not copy it from a tokenizer",),
        rule="compute the table",
    ),
    Mistake(
        "bytes_to_unicode copies Hugging Face's table",
        "bytes_to_unicode",
        (
            (
                TABLE_BODY,
                "    from transformers.convert_slow_tokenizer import bytes_to_unicode as table\n    return table()\n",
            ),
        ),
        "test_bytes_to_unicode",
        ("do not copy it from a tokenizer",),
        rule="compute the table",
    ),
    # 3b. the merge loop
    Mistake(
        "bpe merges the pair with the highest rank",
        "bpe",
        ((BEST, BEST.replace("min(", "max(").replace('float("inf")', "-1")),),
        "test_bpe",
        ("min, not max",),
        rule="the lowest rank first",
    ),
    Mistake(
        "bpe merges the leftmost pair that is in ranks",
        "bpe",
        (
            (
                "        pairs = {(parts[i], parts[i + 1]) for i in range(len(parts) - 1)}\n" + BEST,
                "        pairs = [(parts[i], parts[i + 1]) for i in range(len(parts) - 1)]\n"
                "        best = next((pair for pair in pairs if pair in ranks), pairs[0])\n",
            ),
        ),
        "test_bpe",
        ("lowest rank",),
        rule="the lowest rank first, wherever it is",
    ),
    Mistake(
        "bpe never stops on its own",
        "bpe",
        (("        if best not in ranks:\n            break\n", ""),),
        "test_bpe",
        ("stop when no adjacent pair is in ranks",),
        rule="stop when no adjacent pair is in ranks",
    ),
    Mistake(
        "bpe returns a list",
        "bpe",
        (("    return tuple(parts)\n", "    return parts\n"),),
        "test_bpe",
        ("tuple(parts)",),
        rule="a tuple of strings",
    ),
    Mistake(
        "bpe merges with str.replace across token boundaries",
        "bpe",
        (
            (
                MERGE_LOOP,
                "        parts = ' '.join(parts).replace(best[0] + ' ' + best[1], best[0] + best[1]).split(' ')\n",
            ),
        ),
        "test_bpe",
        ("whole adjacent tokens",),
        rule="merge adjacent tokens",
    ),
    Mistake(
        "bpe merges only the first occurrence, then looks again",
        "bpe",
        (
            (
                MERGE_LOOP,
                """        i = next(i for i in range(len(parts) - 1) if (parts[i], parts[i + 1]) == best)
        parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
""",
            ),
        ),
        "test_bpe_every_occurrence",
        ("every occurrence",),
        rule="merge every occurrence in one pass",
    ),
    Mistake(
        "bpe merges from right to left",
        "bpe",
        (
            (
                MERGE_LOOP,
                """        merged, i = [], len(parts) - 1
        while i >= 0:
            if i > 0 and (parts[i - 1], parts[i]) == best:
                merged.insert(0, parts[i - 1] + parts[i])
                i -= 2
            else:
                merged.insert(0, parts[i])
                i -= 1
        parts = merged
""",
            ),
        ),
        "test_bpe_every_occurrence",
        ("left to right",),
        rule="left to right, non-overlapping",
    ),
    # 4a. the names
    Mistake(
        "hf_to_course_key matches 'attn.bias' without its dot",
        "hf_to_course_key",
        ((BUFFERS, '    if key == "lm_head.weight" or key.endswith(("attn.bias", "attn.masked_bias")):\n'),),
        "test_hf_to_course_key",
        ("with its dot",),
        rule="h.{l}.attn.c_attn.bias is a parameter",
    ),
    Mistake(
        "hf_to_course_key forgets the masked_bias buffers",
        "hf_to_course_key",
        ((BUFFERS, '    if key == "lm_head.weight" or key.endswith(".attn.bias"):\n'),),
        "test_hf_to_course_key",
        ("masked_bias",),
        rule="the mask buffers map to None",
    ),
    Mistake(
        "hf_to_course_key forgets the mask buffers",
        "hf_to_course_key",
        ((BUFFERS, '    if key == "lm_head.weight":\n'),),
        "test_hf_to_course_key",
        ("attn.bias",),
        rule="the mask buffers map to None",
    ),
    Mistake(
        "hf_to_course_key forgets lm_head.weight",
        "hf_to_course_key",
        ((BUFFERS, '    if key.endswith((".attn.bias", ".attn.masked_bias")):\n'),),
        "test_hf_to_course_key",
        ("tied",),
        rule="lm_head.weight maps to None",
    ),
    Mistake(
        "hf_to_course_key keeps the 'transformer.' prefix",
        "hf_to_course_key",
        (('    key = key.removeprefix("transformer.")\n', ""),),
        "test_hf_to_course_key",
        ("prefix",),
        rule="with or without the transformer. prefix",
    ),
    Mistake(
        "hf_to_course_key passes unknown modules through",
        "hf_to_course_key",
        ((BLOCK_KEY, ""), ("{HF_BLOCK_NAMES[module]}", "{HF_BLOCK_NAMES.get(module, module)}")),
        "test_hf_to_course_key",
        ("raise keyerror",),
        rule="KeyError for an unknown module inside a block",
    ),
    Mistake(
        "hf_to_course_key raises ValueError",
        "hf_to_course_key",
        (
            (
                '        raise KeyError(f"{key!r} is not a GPT-2 tensor name")\n',
                '        raise ValueError(f"{key!r} is not a GPT-2 tensor name")\n',
            ),
        ),
        "test_hf_to_course_key",
        ("keyerror",),
        rule="KeyError for an unknown module inside a block",
    ),
    # 4b. the conversion
    Mistake(
        "convert_hf_state_dict does not transpose",
        "convert_hf_state_dict",
        ((TRANSPOSE, ""),),
        "test_convert_hf_state_dict",
        ("transpose",),
        rule="Conv1D weights transposed",
    ),
    Mistake(
        "convert_hf_state_dict transposes every matrix",
        "convert_hf_state_dict",
        ((TRANSPOSE, "        if tensor.dim() == 2:\n            tensor = tensor.t()\n"),),
        "test_convert_hf_state_dict",
        ("transpose exactly the four conv1d weights",),
        rule="only the HF_CONV1D weights",
    ),
    Mistake(
        "convert_hf_state_dict tests the course name for Conv1D",
        "convert_hf_state_dict",
        ((TRANSPOSE, "        if name.endswith(HF_CONV1D):\n            tensor = tensor.t()\n"),),
        "test_convert_hf_state_dict",
        ("hugging face names end in hf_conv1d",),
        rule="names ending in HF_CONV1D",
    ),
    Mistake(
        "convert_hf_state_dict keeps the entries mapped to None",
        "convert_hf_state_dict",
        (("        if name is None:\n            continue\n", ""),),
        "test_convert_hf_state_dict_rules",
        ("leave out the entries",),
        rule="None entries left out",
    ),
    Mistake(
        "convert_hf_state_dict returns non-contiguous views",
        "convert_hf_state_dict",
        (("        state[name] = tensor.contiguous()\n", "        state[name] = tensor\n"),),
        "test_convert_hf_state_dict_rules",
        ("contiguous",),
        rule="contiguous tensors",
    ),
    Mistake(
        "convert_hf_state_dict rewrites the dict it is given",
        "convert_hf_state_dict",
        (
            (
                "    state = {}\n    for key, tensor in hf_state.items():\n",
                "    state = hf_state\n    for key, tensor in list(hf_state.items()):\n        del state[key]\n",
            ),
        ),
        "test_convert_hf_state_dict_rules",
        ("new dict",),
        rule="returns a new dict",
    ),
    # 5a. top-k
    Mistake(
        "top_k_filter drops ties with the k-th logit",
        "top_k_filter",
        (
            (
                KTH + '    return logits.masked_fill(logits < kth, float("-inf"))\n',
                "    idx = torch.topk(logits, k, dim=-1).indices\n"
                '    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, idx, True)\n'
                '    return logits.masked_fill(~keep, float("-inf"))\n',
            ),
        ),
        "test_top_k_filter",
        ("equal to the k-th",),
        rule="ties with the k-th kept",
    ),
    Mistake(
        "top_k_filter with k larger than the vocabulary",
        "top_k_filter",
        (("    k = min(k, logits.size(-1))\n", ""),),
        "test_top_k_filter",
        ("min(k, logits.size(-1))",),
        rule="k larger than the vocabulary keeps all",
    ),
    Mistake(
        "top_k_filter fills in place",
        "top_k_filter",
        (("logits.masked_fill(", "logits.masked_fill_("),),
        "test_top_k_filter",
        ("masked_fill_",),
        rule="logits unchanged",
    ),
    Mistake(
        "top_k_filter for 2-D logits only",
        "top_k_filter",
        ((KTH, KTH.replace("[..., -1:]", "[:, -1:]")),),
        "test_top_k_filter",
        ("last dimension",),
        rule="each row, the last dimension",
    ),
    Mistake(
        "top_k_filter keeps the k-th value's row as a vector",
        "top_k_filter",
        ((KTH, KTH.replace("[..., -1:]", "[..., -1]")),),
        "test_top_k_filter",
        ("values[..., -1:]",),
        rule="each row, the last dimension",
    ),
    # 5b. top-p
    Mistake(
        "top_p_filter counts a token's own probability",
        "top_p_filter",
        ((MASS, "    mass_before = torch.cumsum(probs, dim=-1)\n"),),
        "test_top_p_filter",
        ("mass of the tokens before it",),
        rule="the mass before a token",
    ),
    Mistake(
        "top_p_filter sorts in increasing order",
        "top_p_filter",
        (("descending=True", "descending=False"),),
        "test_top_p_filter",
        ("decreasing order",),
        rule="sort in decreasing order",
    ),
    Mistake(
        "top_p_filter returns probabilities",
        "top_p_filter",
        (
            (
                '    return logits.masked_fill(remove, float("-inf"))\n',
                '    return torch.softmax(logits, dim=-1).masked_fill(remove, float("-inf"))\n',
            ),
        ),
        "test_top_p_filter",
        ("returned unchanged",),
        rule="kept logits returned unchanged",
    ),
    Mistake(
        "top_p_filter does not undo the sort",
        "top_p_filter",
        ((UNSORT, "    remove = remove_sorted\n"),),
        "test_top_p_filter_order",
        ("undo the sort",),
        rule="the original order",
    ),
    Mistake(
        "top_p_filter undoes the sort with gather",
        "top_p_filter",
        ((UNSORT, "    remove = remove_sorted.gather(-1, order)\n"),),
        "test_top_p_filter_order",
        ("scatter",),
        rule="the original order",
    ),
    Mistake(
        "top_p_filter fills the sorted logits",
        "top_p_filter",
        (
            (
                '    return logits.masked_fill(remove, float("-inf"))\n',
                '    return sorted_logits.masked_fill(remove_sorted, float("-inf"))\n',
            ),
        ),
        "test_top_p_filter_order",
        ("not the sorted ones",),
        rule="the original order",
    ),
    Mistake(
        "top_p_filter fills in place",
        "top_p_filter",
        (("logits.masked_fill(remove", "logits.masked_fill_(remove"),),
        "test_top_p_filter_order",
        ("masked_fill_",),
        rule="logits unchanged",
    ),
    # 6. decode_step
    Mistake(
        "decode_step counts the blocks as the position",
        "decode_step",
        (("    t = 0 if past is None else past[0][0].size(2)\n", "    t = 0 if past is None else len(past)\n"),),
        "test_decode_step",
        ("w_p.weight[t]",),
        rule="t = the number of positions in past",
    ),
    Mistake(
        "decode_step for batch size 1 only",
        "decode_step",
        (("    B = x.size(0)\n", "    B = 1\n"),),
        "test_decode_step",
        ("do not assume b = 1",),
        rule="any batch size B",
    ),
    Mistake(
        "decode_step without the 1/sqrt(d_k) scale",
        "decode_step",
        ((" / math.sqrt(attn.d_k)", ""),),
        "test_decode_step",
        ("sqrt(d_k)",),
        rule="softmax(q K^T / sqrt(d_k))",
    ),
    Mistake(
        "decode_step forgets ln_f",
        "decode_step",
        (("    logits = model.ln_f(x)[:, -1] @ model.W_e.weight.T\n", "    logits = x[:, -1] @ model.W_e.weight.T\n"),),
        "test_decode_step",
        ("ln_f",),
        rule="logits = LN_f(x) W_e^T",
    ),
    Mistake(
        "decode_step caches only the new keys and values",
        "decode_step",
        (
            (
                CAT,
                """        new_past.append((k, v))
        if past is not None:
            k = torch.cat([past[l][0], k], dim=2)
            v = torch.cat([past[l][1], v], dim=2)
""",
            ),
        ),
        "test_decode_step",
        ("t + 1 positions",),
        rule="the new past holds t + 1 positions",
    ),
    Mistake(
        "decode_step puts the new keys in front of the cached ones",
        "decode_step",
        (
            ("torch.cat([past[l][0], k], dim=2)", "torch.cat([k, past[l][0]], dim=2)"),
            ("torch.cat([past[l][1], v], dim=2)", "torch.cat([v, past[l][1]], dim=2)"),
        ),
        "test_decode_step",
        ("the cached positions first",),
        rule="cached K and V in front of the new ones",
    ),
    Mistake(
        "decode_step stores the pairs as (V, K)",
        "decode_step",
        (
            ("        new_past.append((k, v))\n", "        new_past.append((v, k))\n"),
            ("k = torch.cat([past[l][0], k], dim=2)", "k = torch.cat([past[l][1], k], dim=2)"),
            ("v = torch.cat([past[l][1], v], dim=2)", "v = torch.cat([past[l][0], v], dim=2)"),
        ),
        "test_decode_step",
        ("(k, v), in this order",),
        rule="one pair (K, V) per block",
    ),
    Mistake(
        "decode_step returns a tuple of pairs",
        "decode_step",
        (("    return logits, new_past\n", "    return logits, tuple(new_past)\n"),),
        "test_decode_step",
        ("return a list",),
        rule="a list with one pair per block",
    ),
    Mistake(
        "decode_step updates the past in place",
        "decode_step",
        (
            ("    new_past = []\n", "    new_past = past if past is not None else [None] * len(model.blocks)\n"),
            ("        new_past.append((k, v))\n", "        new_past[l] = (k, v)\n"),
        ),
        "test_decode_step_past",
        ("new list",),
        rule="a new list; past left as it was",
    ),
    Mistake(
        "decode_step appends to the past it was given",
        "decode_step",
        (
            ("    new_past = []\n", "    new_past = [] if past is None else past\n"),
            (
                "    for l, block in enumerate(model.blocks):\n",
                "    old = list(new_past)\n    new_past.clear()\n    for l, block in enumerate(model.blocks):\n",
            ),
            ("k = torch.cat([past[l][0], k], dim=2)", "k = torch.cat([old[l][0], k], dim=2)"),
            ("v = torch.cat([past[l][1], v], dim=2)", "v = torch.cat([old[l][1], v], dim=2)"),
        ),
        "test_decode_step_past",
        ("new list",),
        rule="a new list; past left as it was",
    ),
]
