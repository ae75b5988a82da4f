"""Chapter 3: slips in attention, the masks, multi-head attention, the positional encoding and the layers."""

from mistakes import Mistake

SCORES = "    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)\n"
FILL = '        scores = scores.masked_fill(~mask, float("-inf"))\n'
SPLIT = "            return x.view(B, -1, self.n_heads, self.d_k).transpose(1, 2)\n"
CONCAT = "        out = out.transpose(1, 2).reshape(B, -1, self.n_heads * self.d_k)  # Concat(head_1, ..., head_h)\n"
PE_FORWARD = "        return self.dropout(x + self.pe[: x.size(1)])\n"
MAX_LEN_CHECK = (
    "        if x.size(1) > self.pe.size(0):\n"
    '            raise ValueError(f"x has {x.size(1)} positions, more than max_len={self.pe.size(0)}")\n'
)
ENC_ATTN = "        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, src_mask)))\n"
ENC_FFN = "        return self.norm2(x + self.dropout(self.ffn(x)))\n"
DEC_SELF = "        y = self.norm1(y + self.dropout(self.self_attn(y, y, y, tgt_mask)))\n"
DEC_CROSS = "        y = self.norm2(y + self.dropout(self.cross_attn(y, memory, memory, src_mask)))\n"
DEC_FFN = "        return self.norm3(y + self.dropout(self.ffn(y)))\n"

MISTAKES = [
    # 1. scaled dot-product attention
    Mistake(
        "attention without the scale",
        "sdpa",
        ((SCORES, "    scores = q @ k.transpose(-2, -1)\n"),),
        "test_sdpa",
        ("1 / sqrt(d_k)",),
        rule="softmax(Q K^T / sqrt(d_k)) V",
    ),
    Mistake(
        "attention scaled by d_k, not its square root",
        "sdpa",
        ((SCORES, "    scores = q @ k.transpose(-2, -1) / d_k\n"),),
        "test_sdpa",
        ("1 / sqrt(d_k)",),
        rule="softmax(Q K^T / sqrt(d_k)) V",
    ),
    Mistake(
        "attention scaled by the values' width",
        "sdpa",
        (("    d_k = q.size(-1)\n", "    d_k = v.size(-1)\n"),),
        "test_sdpa",
        ("d_k = q.size(-1)",),
        rule="d_k is the width of the queries and keys",
    ),
    Mistake(
        "softmax over the queries",
        "sdpa",
        (("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)"),),
        "test_sdpa",
        ("last axis",),
        also_fails=("test_sdpa_mask",),
        rule="the weights of a query sum to 1 over the keys (and so do the masked ones: the mask cell fails too)",
    ),
    Mistake(
        "attention transposes axes 1 and 2 of k (works for 3-d inputs only)",
        "sdpa",
        (("k.transpose(-2, -1)", "k.transpose(1, 2)"),),
        "test_sdpa",
        ("k.transpose(-2, -1)",),
        rule="any number of leading batch axes",
    ),
    Mistake(
        "attention returns (weights, output)",
        "sdpa",
        (("    return weights @ v, weights", "    return weights, weights @ v"),),
        "test_sdpa",
        ("(output, weights), in this order",),
        also_fails=("test_sdpa_mask",),
        rule="return the pair (output, weights) (the mask cell says: fix test_sdpa first)",
    ),
    Mistake(
        "attention forgets `return`",
        "sdpa",
        (("    return weights @ v, weights", "    output = weights @ v"),),
        "test_sdpa",
        ("return",),
        also_fails=("test_sdpa_mask",),
        rule="(the mask cell says: fix test_sdpa first)",
    ),
    Mistake(
        "attention calls F.scaled_dot_product_attention",
        "sdpa",
        (
            (
                "    return weights @ v, weights",
                "    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), weights",
            ),
        ),
        "test_sdpa",
        ("not to use",),
        also_fails=("test_sdpa_mask",),
        rule="do not call F.scaled_dot_product_attention (with or without a mask)",
    ),
    Mistake(
        "softmax in float32 for safety",
        "sdpa",
        (("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-1, dtype=torch.float32)"),),
        "test_sdpa",
        ("dtype",),
        rule="the inputs' dtype (float64 in, float64 out)",
    ),
    Mistake(
        "mask polarity inverted (missing ~)",
        "sdpa",
        ((FILL, '        scores = scores.masked_fill(mask, float("-inf"))\n'),),
        "test_sdpa_mask",
        ("masked_fill(~mask",),
        rule="True = may attend",
    ),
    Mistake(
        "masked scores set to 0, not -inf",
        "sdpa",
        ((FILL, "        scores = scores.masked_fill(~mask, 0.0)\n"),),
        "test_sdpa_mask",
        ("-inf",),
        rule="a masked weight is exactly 0",
    ),
    Mistake(
        "mask applied to the weights after the softmax",
        "sdpa",
        (
            (FILL, "            pass\n"),
            (
                "    weights = torch.softmax(scores, dim=-1)\n",
                "    weights = torch.softmax(scores, dim=-1)\n    if mask is not None:\n"
                "        weights = weights * mask\n",
            ),
        ),
        "test_sdpa_mask",
        ("before the softmax",),
        rule="masked scores are set to -inf before the softmax",
    ),
    Mistake(
        "masked_fill's result thrown away",
        "sdpa",
        ((FILL, '        scores.masked_fill(~mask, float("-inf"))\n'),),
        "test_sdpa_mask",
        ("masked_fill(~mask",),
        rule="a masked weight is exactly 0",
    ),
    # 2. causal mask
    Mistake(
        "causal mask above the diagonal",
        "causal",
        ((".tril()", ".triu()"),),
        "test_causal",
        ("tril()",),
        rule="True on and below the diagonal",
    ),
    Mistake(
        "causal mask of floats",
        "causal",
        (("torch.ones(n, n, dtype=torch.bool, device=device)", "torch.ones(n, n, device=device)"),),
        "test_causal",
        ("dtype=torch.bool",),
        rule="a boolean tensor",
    ),
    Mistake(
        "causal mask ignores device",
        "causal",
        ((", device=device)", ")"),),
        "test_causal",
        ("device=device",),
        rule="on `device`, when given",
    ),
    # 3. multi-head attention
    Mistake(
        "no ValueError for d_model not divisible by n_heads",
        "mha",
        (
            (
                "        if d_model % n_heads != 0:\n"
                '            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")\n',
                "",
            ),
        ),
        "test_mha_rules",
        ("raise ValueError",),
        rule="raise ValueError if d_model is not divisible by n_heads",
    ),
    Mistake(
        "stored attention weights not detached",
        "mha",
        (("self.weights = weights.detach()", "self.weights = weights"),),
        "test_mha_rules",
        ("weights.detach()",),
        rule="keep the weights in self.weights, detached",
    ),
    Mistake(
        "stored weights averaged over the heads",
        "mha",
        (("self.weights = weights.detach()", "self.weights = weights.mean(dim=1).detach()"),),
        "test_mha_rules",
        ("(B, h, L_q, L_k)",),
        rule="the weights of every head",
    ),
    Mistake(
        "number of heads stored as self.h",
        "mha",
        (("self.n_heads", "self.h"),),
        "test_mha_rules",
        ("self.n_heads = n_heads",),
        rule="store self.n_heads and self.d_k",
    ),
    Mistake(
        "output projection named out_proj",
        "mha",
        (
            (
                "        self.W_o = nn.Linear(d_model, d_model)\n",
                "        self.out_proj = nn.Linear(d_model, d_model)\n",
            ),
            ("        return self.W_o(out)", "        return self.out_proj(out)"),
        ),
        "test_mha",
        ("W_o",),
        rule="four nn.Linear named exactly W_q, W_k, W_v, W_o",
    ),
    Mistake(
        "projections without bias",
        "mha",
        (
            (
                "        self.W_q = nn.Linear(d_model, d_model)\n",
                "        self.W_q = nn.Linear(d_model, d_model, bias=False)\n",
            ),
        ),
        "test_mha",
        ("bias on",),
        rule="nn.Linear(d_model, d_model) with bias",
    ),
    Mistake(
        "mask not passed on to the attention",
        "mha",
        (("scaled_dot_product_attention(q, k, v, mask)", "scaled_dot_product_attention(q, k, v)"),),
        "test_mha_mask",
        ("scaled_dot_product_attention(q, k, v, mask)",),
        rule="pass the mask on",
    ),
    Mistake(
        "mask inverted on its way to the attention",
        "mha",
        (
            (
                "scaled_dot_product_attention(q, k, v, mask)",
                "scaled_dot_product_attention(q, k, v, None if mask is None else ~mask)",
            ),
        ),
        "test_mha_mask",
        ("no ~",),
        rule="pass the mask on unchanged",
    ),
    Mistake(
        "heads take every h-th feature",
        "mha",
        ((SPLIT, "            return x.view(B, -1, self.d_k, self.n_heads).permute(0, 3, 1, 2)\n"),),
        "test_mha",
        ("i*d_k ... (i+1)*d_k - 1",),
        rule="head i gets features i d_k ... (i+1) d_k - 1",
    ),
    Mistake(
        "heads concatenated without transposing back",
        "mha",
        ((CONCAT, "        out = out.reshape(B, -1, self.n_heads * self.d_k)\n"),),
        "test_mha",
        ("transpose(1, 2) back",),
        rule="concatenate the heads",
    ),
    Mistake(
        "every projection reshaped with the query's length",
        "mha",
        (
            ("        B = query.size(0)\n", "        B, L = query.size(0), query.size(1)\n"),
            (SPLIT, "            return x.view(B, L, self.n_heads, self.d_k).transpose(1, 2)\n"),
        ),
        "test_mha",
        ("x.view(B, -1, h, d_k)",),
        rule="L_q and L_k may differ",
    ),
    # 4. positional encoding
    Mistake(
        "no ValueError for an odd d_model",
        "pe",
        (
            (
                "    if d_model % 2 != 0:\n"
                '        raise ValueError(f"d_model={d_model} must be even: dimensions come in (sin, cos) pairs")\n',
                "",
            ),
        ),
        "test_pe_rules",
        ("raise ValueError",),
        rule="raise ValueError if d_model is odd",
    ),
    Mistake(
        "exponent i / d_model instead of 2i / d_model",
        "pe",
        (("angle = pos / 10000 ** (two_i / d_model)", "angle = pos / 10000 ** (two_i / 2 / d_model)"),),
        "test_pe",
        ("2i = 4",),
        rule="PE(pos, 2i) = sin(pos / 10000^(2i/d_model))",
    ),
    Mistake(
        "sines and cosines swapped",
        "pe",
        (
            ("pe[:, 0::2] = torch.sin(angle)", "pe[:, 0::2] = torch.cos(angle)"),
            ("pe[:, 1::2] = torch.cos(angle)", "pe[:, 1::2] = torch.sin(angle)"),
        ),
        "test_pe",
        ("sin(0) = 0",),
        rule="sines in even dimensions, cosines in odd ones",
    ),
    Mistake(
        "table returned in float64",
        "pe",
        (("    return pe.float()\n", "    return pe\n"),),
        "test_pe",
        ("float32",),
        rule="the float32 table",
    ),
    Mistake(
        "PE table kept as an attribute, not a buffer",
        "pe",
        (
            (
                '        self.register_buffer("pe", positional_encoding(max_len, d_model), persistent=False)\n',
                "        self.pe = positional_encoding(max_len, d_model)\n",
            ),
        ),
        "test_pe_rules",
        ("register_buffer",),
        rule="a buffer named pe",
    ),
    Mistake(
        "PE table as a frozen parameter",
        "pe",
        (
            (
                '        self.register_buffer("pe", positional_encoding(max_len, d_model), persistent=False)\n',
                "        self.pe = nn.Parameter(positional_encoding(max_len, d_model), requires_grad=False)\n",
            ),
        ),
        "test_pe_rules",
        ("not an nn.Parameter",),
        rule="a buffer, not a parameter",
    ),
    Mistake(
        "PE buffer saved in the state_dict",
        "pe",
        ((", persistent=False)", ")"),),
        "test_pe_rules",
        ("persistent=False",),
        rule="register_buffer(..., persistent=False)",
    ),
    Mistake(
        "no ValueError for sequences longer than max_len",
        "pe",
        ((MAX_LEN_CHECK, ""),),
        "test_pe_rules",
        ("naming max_len",),
        rule="raise ValueError naming max_len",
    ),
    Mistake(
        "ValueError for long sequences without naming max_len",
        "pe",
        (('more than max_len={self.pe.size(0)}"', 'too long"'),),
        "test_pe_rules",
        ("names max_len",),
        rule="raise ValueError naming max_len",
    ),
    Mistake(
        "no dropout in the positional encoding",
        "pe",
        ((PE_FORWARD, "        return x + self.pe[: x.size(1)]\n"),),
        "test_pe_module",
        ("self.dropout",),
        rule="Dropout(x + PE[:L])",
    ),
    Mistake(
        "dropout on the table, not on the sum",
        "pe",
        ((PE_FORWARD, "        return x + self.dropout(self.pe[: x.size(1)])\n"),),
        "test_pe_module",
        ("to the sum",),
        rule="Dropout(x + PE[:L])",
    ),
    Mistake(
        "dropout rate ignored",
        "pe",
        (("        self.dropout = nn.Dropout(dropout)\n", "        self.dropout = nn.Dropout()\n"),),
        "test_pe_module",
        ("nn.Dropout(dropout)",),
        rule="self.dropout = nn.Dropout(dropout)",
    ),
    # 5. encoder layer
    Mistake(
        "encoder layer pre-LN",
        "encoder",
        (
            (
                ENC_ATTN,
                "        x = x + self.dropout(self.self_attn(self.norm1(x), self.norm1(x), self.norm1(x), src_mask))\n",
            ),
            (ENC_FFN, "        return x + self.dropout(self.ffn(self.norm2(x)))\n"),
        ),
        "test_encoder",
        ("post-LN",),
        rule="LayerNorm(x + Dropout(Sublayer(x)))",
    ),
    Mistake(
        "encoder layer without the residual connections",
        "encoder",
        ((ENC_ATTN, "        x = self.norm1(self.dropout(self.self_attn(x, x, x, src_mask)))\n"),),
        "test_encoder",
        ("residual",),
        rule="LayerNorm(x + Dropout(Sublayer(x)))",
    ),
    Mistake(
        "encoder layer uses norm1 twice",
        "encoder",
        ((ENC_FFN, "        return self.norm1(x + self.dropout(self.ffn(x)))\n"),),
        "test_encoder",
        ("norm2",),
        rule="norm1 after the attention, norm2 after the FFN",
    ),
    Mistake(
        "encoder FFN written as an nn.Sequential",
        "encoder",
        (
            (
                "        self.ffn = FeedForward(d_model, d_ff)\n",
                "        self.ffn = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))\n",
            ),
        ),
        "test_encoder",
        ("FeedForward(d_model, d_ff)",),
        rule="self.ffn is a FeedForward",
    ),
    Mistake(
        "LayerNorm with eps 1e-6",
        "encoder",
        (("        self.norm1 = nn.LayerNorm(d_model)\n", "        self.norm1 = nn.LayerNorm(d_model, eps=1e-6)\n"),),
        "test_encoder",
        ("nn.LayerNorm(d_model)",),
        rule="nn.LayerNorm(d_model), default eps",
    ),
    Mistake(
        "src_mask ignored in the encoder",
        "encoder",
        (("self.self_attn(x, x, x, src_mask)", "self.self_attn(x, x, x)"),),
        "test_encoder_mask",
        ("self.self_attn(x, x, x, src_mask)",),
        rule="pass src_mask to the self-attention",
    ),
    Mistake(
        "no dropout in the encoder layer",
        "encoder",
        (
            (ENC_ATTN, "        x = self.norm1(x + self.self_attn(x, x, x, src_mask))\n"),
            (ENC_FFN, "        return self.norm2(x + self.ffn(x))\n"),
        ),
        "test_encoder_dropout",
        ("self.dropout",),
        rule="dropout on each sub-layer's output",
    ),
    Mistake(
        "no dropout after the encoder's FFN",
        "encoder",
        ((ENC_FFN, "        return self.norm2(x + self.ffn(x))\n"),),
        "test_encoder_dropout",
        ("before the residual addition",),
        rule="dropout on each sub-layer's output",
    ),
    Mistake(
        "encoder dropout on the residual sum",
        "encoder",
        ((ENC_ATTN, "        x = self.norm1(self.dropout(x + self.self_attn(x, x, x, src_mask)))\n"),),
        "test_encoder_dropout",
        ("before the residual addition",),
        rule="LayerNorm(x + Dropout(Sublayer(x)))",
    ),
    Mistake(
        "encoder layer forgets `return`",
        "encoder",
        ((ENC_FFN, "        x = self.norm2(x + self.dropout(self.ffn(x)))\n"),),
        "test_encoder",
        ("return",),
        also_fails=("test_encoder_mask", "test_encoder_dropout"),
        rule="(a layer that returns nothing fails every test of it)",
    ),
    # 6. decoder layer
    Mistake(
        "src_mask not passed to the decoder's cross-attention",
        "decoder",
        (("self.cross_attn(y, memory, memory, src_mask)", "self.cross_attn(y, memory, memory)"),),
        "test_decoder_mask",
        ("src_mask to the cross-attention",),
        rule="src_mask in the cross-attention",
    ),
    Mistake(
        "tgt_mask given to the cross-attention too",
        "decoder",
        (("self.cross_attn(y, memory, memory, src_mask)", "self.cross_attn(y, memory, memory, tgt_mask)"),),
        "test_decoder_mask",
        ("src_mask to the cross-attention",),
        rule="src_mask in the cross-attention",
    ),
    Mistake(
        "tgt_mask ignored in the decoder",
        "decoder",
        (("self.self_attn(y, y, y, tgt_mask)", "self.self_attn(y, y, y)"),),
        "test_decoder_mask",
        ("tgt_mask", "self-attention"),
        rule="tgt_mask in the self-attention",
    ),
    Mistake(
        "decoder builds its own causal mask",
        "decoder",
        (
            (
                DEC_SELF,
                "        causal = causal_mask(y.size(1), y.device)\n"
                "        tgt_mask = causal if tgt_mask is None else tgt_mask & causal\n" + DEC_SELF,
            ),
        ),
        "test_decoder",
        ("builds no causal mask",),
        rule="the caller passes tgt_mask already combined",
    ),
    Mistake(
        "decoder layer pre-LN",
        "decoder",
        (
            (DEC_SELF, "        h = self.norm1(y)\n        y = y + self.dropout(self.self_attn(h, h, h, tgt_mask))\n"),
            (DEC_CROSS, "        y = y + self.dropout(self.cross_attn(self.norm2(y), memory, memory, src_mask))\n"),
            (DEC_FFN, "        return y + self.dropout(self.ffn(self.norm3(y)))\n"),
        ),
        "test_decoder",
        ("norm1(y + dropout(",),
        rule="post-LN",
    ),
    Mistake(
        "cross-attention before self-attention",
        "decoder",
        (
            (DEC_SELF, "        y = self.norm1(y + self.dropout(self.cross_attn(y, memory, memory, src_mask)))\n"),
            (DEC_CROSS, "        y = self.norm2(y + self.dropout(self.self_attn(y, y, y, tgt_mask)))\n"),
        ),
        "test_decoder",
        ("then norm2(y + dropout(cross_attn",),
        rule="masked self-attention, then cross-attention",
    ),
    Mistake(
        "one attention module for self- and cross-attention",
        "decoder",
        (
            (
                "        self.cross_attn = MultiHeadAttention(d_model, n_heads)\n",
                "        self.cross_attn = self.self_attn\n",
            ),
        ),
        "test_decoder",
        ("two multiheadattention",),
        rule="two MultiHeadAttentions",
    ),
    Mistake(
        "no dropout in the decoder layer",
        "decoder",
        (
            (DEC_SELF, "        y = self.norm1(y + self.self_attn(y, y, y, tgt_mask))\n"),
            (DEC_CROSS, "        y = self.norm2(y + self.cross_attn(y, memory, memory, src_mask))\n"),
            (DEC_FFN, "        return self.norm3(y + self.ffn(y))\n"),
        ),
        "test_decoder_dropout",
        ("self.dropout",),
        rule="dropout on each sub-layer's output",
    ),
    Mistake(
        "no dropout after the decoder's cross-attention",
        "decoder",
        ((DEC_CROSS, "        y = self.norm2(y + self.cross_attn(y, memory, memory, src_mask))\n"),),
        "test_decoder_dropout",
        ("cross_attn",),
        rule="dropout on each sub-layer's output",
    ),
    Mistake(
        "decoder dropout rate hard-coded",
        "decoder",
        (("        self.dropout = nn.Dropout(dropout)\n", "        self.dropout = nn.Dropout(0.1)\n"),),
        "test_decoder_dropout",
        ("nn.Dropout(dropout)",),
        rule="self.dropout = nn.Dropout(dropout)",
    ),
]
