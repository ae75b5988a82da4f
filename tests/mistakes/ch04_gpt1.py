"""Chapter 4: slips in the GPT-1 block, the tied language model, L1, one BPE merge, the head W_y, L3 and
the input transformations."""

from mistakes import Mistake

ATTN = "        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)))\n"
FFN = "        return self.norm2(x + self.dropout(self.ffn(x)))\n"
MASK = "        mask = causal_mask(x.size(1), x.device)\n"
H0 = "        h = self.dropout(self.W_e(U) + self.W_p(positions))\n"
LOGITS = "        return self.hidden(U) @ self.W_e.weight.T\n"
INIT = "        init_weights(self, config.init_std)\n"
CE = "    return F.cross_entropy(logits[:, :-1].reshape(-1, V), targets, ignore_index=ignore)\n"
BEST = "    best = min(counts, key=lambda pair: (-counts[pair], pair))\n"
H_LAST = "        h_last = h[torch.arange(X.size(0), device=X.device), last]\n"
L3 = "    return F.cross_entropy(class_logits, y) + lam * lm_loss(lm_logits, X, pad_id)\n"
ENTAIL = (
    "    return [tok.start_id] + tok.encode(premise) + [tok.delim_id] + tok.encode(hypothesis) + [tok.extract_id]\n"
)
MC = (
    "    return [[tok.start_id] + tok.encode(context) + [tok.delim_id] + tok.encode(a) + [tok.extract_id] "
    "for a in answers]\n"
)

MISTAKES = [
    # 1. the block
    Mistake(
        "Block in pre-LN (GPT-2's arrangement)",
        "block",
        (
            (
                ATTN + FFN,
                "        x = x + self.dropout(self.self_attn(self.norm1(x), self.norm1(x), self.norm1(x), mask))\n"
                "        return x + self.dropout(self.ffn(self.norm2(x)))\n",
            ),
        ),
        "test_block",
        ("post-LN", "pre-LN"),
        rule="post-LN: LayerNorm(x + Dropout(Sublayer(x)))",
    ),
    Mistake(
        "Block swaps the two LayerNorms",
        "block",
        ((ATTN + FFN, ATTN.replace("norm1", "norm2") + FFN.replace("norm2", "norm1")),),
        "test_block",
        ("x = norm1(x + dropout(self_attn",),
        rule="norm1 after attention, norm2 after the FFN",
    ),
    Mistake(
        "Block forgets the residual around the feed-forward network",
        "block",
        ((FFN, "        return self.norm2(self.dropout(self.ffn(x)))\n"),),
        "test_block",
        ("norm2(x + dropout(ffn(x)))",),
        rule="residual connections",
    ),
    Mistake(
        "Block with chapter 3's ReLU feed-forward network",
        "block",
        (
            (
                "        self.ffn = GELUFeedForward(config.d_model, config.d_ff)\n",
                "        self.ffn = nn.Sequential(nn.Linear(config.d_model, config.d_ff), nn.ReLU(),\n"
                "                                 nn.Linear(config.d_ff, config.d_model))\n",
            ),
        ),
        "test_block",
        ("GELUFeedForward", "not ReLU"),
        rule="the FFN uses GELU (ffn = GELUFeedForward)",
    ),
    Mistake(
        "Block names its attention `attn`",
        "block",
        (
            ("self.self_attn = MultiHeadAttention", "self.attn = MultiHeadAttention"),
            ("self.self_attn(x, x, x, mask)", "self.attn(x, x, x, mask)"),
        ),
        "test_block",
        ("self_attn = MultiHeadAttention(config.d_model, config.n_heads)",),
        rule="attribute names",
    ),
    Mistake(
        "Block without the causal mask",
        "block",
        ((MASK, ""), ("self.self_attn(x, x, x, mask)", "self.self_attn(x, x, x)")),
        "test_block_causal",
        ("causal_mask(x.size(1), x.device)",),
        rule="causal mask",
    ),
    Mistake(
        "Block with the mask inverted",
        "block",
        ((MASK, "        mask = ~causal_mask(x.size(1), x.device)\n"),),
        "test_block_causal",
        ("not inverted",),
        rule="causal mask: True = may attend",
    ),
    Mistake(
        "Block builds the mask on the CPU",
        "block",
        ((MASK, "        mask = causal_mask(x.size(1))\n"),),
        "test_block_causal",
        ("x.device",),
        rule="causal_mask(L, x.device)",
    ),
    Mistake(
        "Block builds the mask from the batch size",
        "block",
        ((MASK, "        mask = causal_mask(x.size(0), x.device)\n"),),
        "test_block_causal",
        ("x.size(1)", "not the batch size"),
        rule="causal_mask(L, x.device), L = x.size(1)",
    ),
    Mistake(
        "Block without dropout on the feed-forward output",
        "block",
        ((FFN, "        return self.norm2(x + self.ffn(x))\n"),),
        "test_block_dropout",
        ("output of each sub-layer",),
        rule="dropout on each sub-layer's output",
    ),
    Mistake(
        "Block applies dropout after the residual addition",
        "block",
        ((ATTN, "        x = self.norm1(self.dropout(x + self.self_attn(x, x, x, mask)))\n"),),
        "test_block_dropout",
        ("before the residual addition",),
        rule="dropout before the residual addition",
    ),
    Mistake(
        "Block with a fixed dropout rate",
        "block",
        (("nn.Dropout(config.dropout)", "nn.Dropout(0.1)"),),
        "test_block_dropout",
        ("nn.Dropout(config.dropout)",),
        rule="dropout = nn.Dropout(config.dropout)",
    ),
    Mistake(
        "Block uses F.dropout for the feed-forward output, on in eval mode too",
        "block",
        (("self.dropout(self.ffn(x))", "F.dropout(self.ffn(x), self.dropout.p)"),),
        "test_block_dropout",
        ("not F.dropout",),
        rule="dropout = the module self.dropout",
    ),
    # 2. the language model
    Mistake(
        "GPT1 with an untied output layer",
        "gpt1",
        (
            (INIT, "        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)\n" + INIT),
            (LOGITS, "        return self.lm_head(self.hidden(U))\n"),
        ),
        "test_gpt1_tied",
        ("tie the output layer",),
        rule="weight tying: the output layer is W_e",
    ),
    Mistake(
        "GPT1 copies W_e into its own output matrix",
        "gpt1",
        (
            (INIT, INIT + "        self.W_out = nn.Parameter(self.W_e.weight.detach().clone())\n"),
            (LOGITS, "        return self.hidden(U) @ self.W_out.T\n"),
        ),
        "test_gpt1_tied",
        ("no copy of W_e",),
        rule="weight tying: one tensor used twice",
    ),
    Mistake(
        "GPT1 detaches W_e in the output layer",
        "gpt1",
        ((LOGITS, "        return self.hidden(U) @ self.W_e.weight.detach().T\n"),),
        "test_gpt1_tied",
        ("not .detach()",),
        rule="weight tying: gradients through both uses",
    ),
    Mistake(
        "GPT1 returns probabilities",
        "gpt1",
        ((LOGITS, "        return torch.softmax(self.hidden(U) @ self.W_e.weight.T, dim=-1)\n"),),
        "test_gpt1_tied",
        ("no softmax",),
        rule="forward returns the logits",
    ),
    Mistake(
        "GPT1 numbers the positions from 1",
        "gpt1",
        (("torch.arange(U.size(1), device=U.device)", "torch.arange(1, U.size(1) + 1, device=U.device)"),),
        "test_gpt1",
        ("torch.arange(L)", "not from 1"),
        rule="W_p: rows of positions 0 ... L-1",
    ),
    Mistake(
        "GPT1 looks the positions up with the token ids",
        "gpt1",
        ((H0, "        h = self.dropout(self.W_e(U) + self.W_p(U))\n"),),
        "test_gpt1",
        ("torch.arange(L)",),
        rule="learned positions W_p",
    ),
    Mistake(
        "GPT1 without dropout on h_0",
        "gpt1",
        ((H0, "        h = self.W_e(U) + self.W_p(positions)\n"),),
        "test_gpt1",
        ("apply self.dropout once, to h_0",),
        rule="dropout applied to h_0",
    ),
    Mistake(
        "GPT1 applies the dropout to the token embeddings only",
        "gpt1",
        ((H0, "        h = self.dropout(self.W_e(U)) + self.W_p(positions)\n"),),
        "test_gpt1",
        ("not on W_e(U) alone",),
        rule="dropout applied to h_0",
    ),
    Mistake(
        "GPT1 adds a final LayerNorm (GPT-2's)",
        "gpt1",
        (
            (INIT, "        self.ln_f = nn.LayerNorm(config.d_model)\n" + INIT),
            ("        return h\n", "        return self.ln_f(h)\n"),
        ),
        "test_gpt1",
        ("no final LayerNorm",),
        rule="hidden returns h_n",
    ),
    Mistake(
        "GPT1 keeps its blocks in a Python list",
        "gpt1",
        (
            (
                "nn.ModuleList(Block(config) for _ in range(config.n_layers))",
                "[Block(config) for _ in range(config.n_layers)]",
            ),
        ),
        "test_gpt1",
        ("nn.ModuleList",),
        rule="blocks = nn.ModuleList",
    ),
    Mistake(
        "GPT1 without init_weights",
        "gpt1",
        ((INIT, ""),),
        "test_gpt1_init",
        ("init_weights(self, config.init_std)",),
        rule="weights ~ N(0, config.init_std)",
    ),
    Mistake(
        "GPT1 initialises before the blocks exist",
        "gpt1",
        ((INIT, ""), ("        self.W_e = nn.Embedding", INIT + "        self.W_e = nn.Embedding")),
        "test_gpt1_init",
        ("after every part exists",),
        rule="init_weights is the last line of __init__",
    ),
    Mistake(
        "GPT1 initialises with a fixed 0.02",
        "gpt1",
        ((INIT, "        init_weights(self, 0.02)\n"),),
        "test_gpt1_init",
        ("not a fixed 0.02",),
        rule="std = config.init_std",
    ),
    # 3. L1
    Mistake(
        "lm_loss without the shift",
        "lm_loss",
        ((CE, "    return F.cross_entropy(logits.reshape(-1, V), U.reshape(-1), ignore_index=ignore)\n"),),
        "test_lm_loss",
        ("shift by one",),
        rule="logits[:, :-1] score U[:, 1:]",
    ),
    Mistake(
        "lm_loss shifted the wrong way",
        "lm_loss",
        (
            ("    targets = U[:, 1:].reshape(-1)\n", "    targets = U[:, :-1].reshape(-1)\n"),
            ("logits[:, :-1].reshape(-1, V)", "logits[:, 1:].reshape(-1, V)"),
        ),
        "test_lm_loss",
        ("shift by one",),
        rule="logits[:, :-1] score U[:, 1:]",
    ),
    Mistake(
        "lm_loss sums instead of averaging",
        "lm_loss",
        (("ignore_index=ignore)", "ignore_index=ignore, reduction=\"sum\")"),),
        "test_lm_loss",
        ("the mean (not the sum)",),
        rule="the mean over predicted tokens",
    ),
    Mistake(
        "lm_loss treats pad_id=0 as no padding",
        "lm_loss",
        (("    ignore = -100 if pad_id is None else pad_id\n", "    ignore = pad_id if pad_id else -100\n"),),
        "test_lm_loss",
        ("pad_id is None",),
        rule="targets equal to pad_id are left out",
    ),
    Mistake(
        "lm_loss ignores token 0 when pad_id is None",
        "lm_loss",
        (("    ignore = -100 if pad_id is None else pad_id\n", "    ignore = 0 if pad_id is None else pad_id\n"),),
        "test_lm_loss",
        ("not even 0",),
        rule="with pad_id=None nothing is ignored",
    ),
    Mistake(
        "lm_loss counts the padding in the mean",
        "lm_loss",
        (
            (
                CE,
                "    losses = F.cross_entropy(logits[:, :-1].reshape(-1, V), targets, ignore_index=ignore, "
                "reduction=\"none\")\n    return losses.mean()\n",
            ),
        ),
        "test_lm_loss",
        ("AND of the count",),
        rule="padding left out of the count",
    ),
    Mistake(
        "lm_loss flattens with .view",
        "lm_loss",
        (("logits[:, :-1].reshape(-1, V)", "logits[:, :-1].view(-1, V)"),),
        "test_lm_loss",
        ("reshape",),
    ),
    Mistake(
        "lm_loss returns a Python float",
        "lm_loss",
        ((CE, CE.rstrip("\n") + ".item()\n"),),
        "test_lm_loss",
        ("0-dim tensor", "no .item()"),
        rule="training back-propagates through the loss",
    ),
    # 4. one BPE merge
    Mistake(
        "pair_counts ignores the word frequencies",
        "pair_counts",
        (("counts.get(pair, 0) + freq", "counts.get(pair, 0) + 1"),),
        "test_pair_counts",
        ("frequency",),
        rule="each occurrence weighted by the word's frequency",
    ),
    Mistake(
        "pair_counts counts a pair once per word",
        "pair_counts",
        (("for pair in zip(symbols, symbols[1:]):", "for pair in set(zip(symbols, symbols[1:])):"),),
        "test_pair_counts",
        ("counts twice",),
        rule="every occurrence counts",
    ),
    Mistake(
        "merge_pair merges overlapping occurrences",
        "pair_counts",
        (
            (
                "                out.append(symbols[i] + symbols[i + 1])\n                i += 2\n",
                "                out.append(symbols[i] + symbols[i + 1])\n                i += 1\n",
            ),
        ),
        "test_merge_pair",
        ("skip both",),
        rule="non-overlapping, left to right",
    ),
    Mistake(
        "merge_pair joins the symbols into a string and replaces",
        "pair_counts",
        (
            (
                "        out, i = [], 0\n        while i < len(symbols):\n"
                "            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:\n"
                "                out.append(symbols[i] + symbols[i + 1])\n                i += 2\n"
                "            else:\n                out.append(symbols[i])\n                i += 1\n",
                "        out = \" \".join(symbols).replace(\" \".join(pair), \"\".join(pair)).split(\" \")\n",
            ),
        ),
        "test_merge_pair",
        ("compare whole symbols",),
        rule="only whole symbols match",
    ),
    Mistake(
        "merge_pair changes the vocab it is given",
        "pair_counts",
        (
            (
                "    merged = {}\n    for symbols, freq in vocab.items():",
                "    merged = vocab\n    for symbols, freq in list(vocab.items()):\n        del vocab[symbols]",
            ),
        ),
        "test_merge_pair",
        ("new dict",),
        rule="merge_pair returns a new vocab",
    ),
    Mistake(
        "bpe_merge_step breaks ties by the order of counting",
        "pair_counts",
        ((BEST, "    best = max(counts, key=counts.get)\n"),),
        "test_bpe_merge_step",
        ("not to the one counted first",),
        rule="ties: the smallest pair in tuple order",
    ),
    Mistake(
        "bpe_merge_step breaks ties towards the largest pair",
        "pair_counts",
        ((BEST, "    best = max(counts, key=lambda pair: (counts[pair], pair))\n"),),
        "test_bpe_merge_step",
        ("smallest pair in python's tuple order",),
        rule="ties: the smallest pair",
    ),
    Mistake(
        "bpe_merge_step picks the smallest pair, whatever its count",
        "pair_counts",
        ((BEST, "    best = min(counts)\n"),),
        "test_bpe_merge_step",
        ("most frequent",),
        rule="the most frequent pair",
    ),
    Mistake(
        "bpe_merge_step fails when nothing can merge",
        "pair_counts",
        (("    if not counts:\n        return None, vocab\n", ""),),
        "test_bpe_merge_step",
        ("(None, vocab)",),
        rule="(None, vocab) if no word has two symbols",
    ),
    # 5. the head and L3
    Mistake(
        "GPT1Classifier reads the last column (the padding)",
        "classifier",
        ((H_LAST, "        h_last = h[:, -1]\n"),),
        "test_classifier",
        ("last[b]", "not h[:, -1]"),
        rule="W_y on h_l^m, the [extract] token's activation",
    ),
    Mistake(
        "GPT1Classifier reads the first token",
        "classifier",
        ((H_LAST, "        h_last = h[:, 0]\n"),),
        "test_classifier",
        ("not h[:, 0]",),
        rule="W_y on h_l^m, the [extract] token's activation",
    ),
    Mistake(
        "GPT1Classifier indexes h[:, last]",
        "classifier",
        ((H_LAST, "        h_last = h[:, last]\n"),),
        "test_classifier",
        ("h[torch.arange(B), last]",),
        rule="row b's activation at last[b]",
    ),
    Mistake(
        "GPT1Classifier names its head `head`",
        "classifier",
        (("self.W_y", "self.head"),),
        "test_classifier",
        ("self.W_y = nn.Linear(lm.config.d_model, n_classes)",),
        rule="attribute names",
    ),
    Mistake(
        "GPT1Classifier runs the language model twice",
        "classifier",
        (("        return h_last, h @ self.lm.W_e.weight.T\n", "        return h_last, self.lm(X)\n"),),
        "test_classifier_rules",
        ("once",),
        rule="compute h_n once",
    ),
    Mistake(
        "GPT1Classifier without dropout before W_y",
        "classifier",
        (("self.W_y(self.dropout(h_last))", "self.W_y(h_last)"),),
        "test_classifier_rules",
        ("apply self.dropout once, to h_l^m",),
        rule="dropout before W_y",
    ),
    Mistake(
        "GPT1Classifier applies the dropout to the class logits",
        "classifier",
        (("self.W_y(self.dropout(h_last))", "self.dropout(self.W_y(h_last))"),),
        "test_classifier_rules",
        ("not on the class logits",),
        rule="dropout on h_l^m",
    ),
    Mistake(
        "GPT1Classifier keeps nn.Linear's default initialisation",
        "classifier",
        (
            (
                "        nn.init.normal_(self.W_y.weight, std=lm.config.init_std)\n        nn.init.zeros_(self.W_y.bias)\n",
                "",
            ),
        ),
        "test_classifier_rules",
        ("lm.config.init_std",),
        rule="W_y ~ N(0, init_std), bias 0",
    ),
    Mistake(
        "GPT1Classifier computes h_n without gradients",
        "classifier",
        (("        h = self.lm.hidden(X)\n", "        with torch.no_grad():\n            h = self.lm.hidden(X)\n"),),
        "test_classifier_rules",
        ("torch.no_grad()",),
        rule="gradients reach lm",
    ),
    Mistake(
        "l3_loss applies lam to the classification term",
        "l3_loss",
        ((L3, "    return lam * F.cross_entropy(class_logits, y) + lm_loss(lm_logits, X, pad_id)\n"),),
        "test_l3",
        ("lam multiplies the language-model term only",),
        rule="L3 = L2 + lam * L1",
    ),
    Mistake(
        "l3_loss weighs the two terms (1 - lam) and lam",
        "l3_loss",
        ((L3, "    return (1 - lam) * F.cross_entropy(class_logits, y) + lam * lm_loss(lm_logits, X, pad_id)\n"),),
        "test_l3",
        ("lam multiplies the language-model term only",),
        rule="L3 = L2 + lam * L1",
    ),
    Mistake(
        "l3_loss does not pass pad_id on",
        "l3_loss",
        ((L3, L3.replace("lm_loss(lm_logits, X, pad_id)", "lm_loss(lm_logits, X)")),),
        "test_l3",
        ("pass pad_id on",),
        rule="pad_id passed to lm_loss",
    ),
    Mistake(
        "l3_loss forgets `return`", "l3_loss", ((L3, L3.replace("    return ", "    loss = ")),), "test_l3", ("return",)
    ),
    # 6. input transformations
    Mistake(
        "entailment_input without [extract]",
        "transforms",
        ((ENTAIL, ENTAIL.replace(" + [tok.extract_id]", "")),),
        "test_transforms",
        ("tok.extract_id",),
        rule="[start] premise [delim] hypothesis [extract]",
    ),
    Mistake(
        "entailment_input nests the encoded texts",
        "transforms",
        (
            (
                ENTAIL,
                "    return [tok.start_id, tok.encode(premise), tok.delim_id, tok.encode(hypothesis), "
                "tok.extract_id]\n",
            ),
        ),
        "test_transforms",
        ("one flat list",),
        rule="one list of ids",
    ),
    Mistake(
        "multiple_choice_inputs puts the answer before the context",
        "transforms",
        (
            (
                MC,
                MC.replace(
                    "tok.encode(context) + [tok.delim_id] + tok.encode(a)",
                    "tok.encode(a) + [tok.delim_id] + tok.encode(context)",
                ),
            ),
        ),
        "test_transforms_mc",
        ("before the answer",),
        rule="[start] context [delim] answer_k [extract]",
    ),
    Mistake(
        "multiple_choice_inputs returns one long sequence",
        "transforms",
        (
            (
                MC,
                "    out = []\n    for a in answers:\n        out += [tok.start_id] + tok.encode(context) + "
                "[tok.delim_id] + tok.encode(a) + [tok.extract_id]\n    return out\n",
            ),
        ),
        "test_transforms_mc",
        ("one flat list of ids per answer",),
        rule="one sequence per answer",
    ),
]
