"""Chapter 1: slips in the encoder, the decoder step, teacher forcing, the masked loss and greedy decoding."""

from mistakes import Mistake

# --- the reference answers' lines the slips edit -------------------------------------------------------------
RUN = "        states, _ = self.rnn(self.embed(src))\n"
CONTEXT = "        context = states[torch.arange(src.size(0)), src_lengths - 1]\n"
GRU_IN = "        x = torch.cat([self.embed(y_prev), context], dim=-1)\n"
CELL = "        s = self.cell(x, s_prev)\n"
OUT = "        logits = self.out(torch.cat([s, context], dim=-1))\n"
STEP = "        logits_t, state = model.step(tgt_in[:, t], state)\n"
MASK = "    mask = (targets != pad_id).float()\n"
LOSS = "    return (nll * mask).sum() / mask.sum()"
ARGMAX = "        y = logits.argmax(dim=-1).masked_fill(done, eos_id)\n"
STOP = "        if done.all():\n            break\n"
TRAINING = "test_training trains with your loss: it cannot, and says to fix test_masked_ce first"

MISTAKES = [
    # 1. the encoder
    Mistake(
        "encoder returns (context, states)",
        "encoder",
        (("        return states, context", "        return context, states"),),
        "test_encoder",
        ("in this order",),
        rule="return the pair (states, context), in this order",
    ),
    Mistake(
        "encoder packs the batch and unpacks it without total_length",
        "encoder",
        (
            (
                RUN
                + "        # the state after each sentence's last real word (padding comes after it, so it is untouched)\n"
                + CONTEXT,
                "        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src), src_lengths, batch_first=True,\n"
                "                                                   enforce_sorted=False)\n"
                "        outputs, last = self.rnn(packed)\n"
                "        states, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True)\n"
                "        context = last[-1]\n",
            ),
        ),
        "test_encoder",
        ("src.size(1)", "total_length"),
        rule="states (B, S, H) with S = src.size(1)",
    ),
    Mistake(
        "encoder detaches the context",
        "encoder",
        ((CONTEXT, CONTEXT.replace("src_lengths - 1]", "src_lengths - 1].detach()")),),
        "test_encoder",
        (".detach()",),
        rule="both outputs stay differentiable",
    ),
    Mistake(
        "encoder takes the GRU's last hidden state as the context",
        "encoder",
        (
            (
                RUN
                + "        # the state after each sentence's last real word (padding comes after it, so it is untouched)\n"
                + CONTEXT,
                "        states, last = self.rnn(self.embed(src))\n        context = last[-1]\n",
            ),
        ),
        "test_encoder_context",
        ("last real word", "not the GRU's last state"),
        rule="the context is the state after the last real word",
    ),
    Mistake(
        "encoder takes the last column of states as the context",
        "encoder",
        ((CONTEXT, "        context = states[:, -1]\n"),),
        "test_encoder_context",
        ("last real word",),
        rule="the context is the state after the last real word",
    ),
    Mistake(
        "encoder indexes the context with src_lengths (off by one)",
        "encoder",
        ((CONTEXT, CONTEXT.replace("src_lengths - 1", "src_lengths")),),
        "test_encoder_context",
        ("src_lengths - 1",),
        rule="states[torch.arange(B), src_lengths - 1]",
    ),
    Mistake(
        "encoder indexes with states[:, src_lengths - 1] (no arange)",
        "encoder",
        ((CONTEXT, "        context = states[:, src_lengths - 1]\n"),),
        "test_encoder_context",
        ("torch.arange(B)",),
        rule="advanced indexing with torch.arange(B)",
    ),
    # 2. the decoder step
    Mistake(
        "decoder step concatenates [context; embedding]",
        "decoder_step",
        ((GRU_IN, "        x = torch.cat([context, self.embed(y_prev)], dim=-1)\n"),),
        "test_decoder_step",
        ("the embedding first",),
        rule="the GRU cell's input is [E_tgt[y_prev]; context]",
    ),
    Mistake(
        "decoder step feeds the GRU cell the context as its state",
        "decoder_step",
        ((CELL, "        s = self.cell(x, context)\n"),),
        "test_decoder_step",
        ("its state is s_prev",),
        rule="the GRU cell's state is s_prev",
    ),
    Mistake(
        "decoder step forgets the context in the GRU input",
        "decoder_step",
        ((GRU_IN, "        x = self.embed(y_prev)\n"),),
        "test_decoder_step",
        ("[E_tgt[y_prev]; context]",),
        rule="Cho et al. feed c to every step",
    ),
    Mistake(
        "decoder step returns (s, logits)",
        "decoder_step",
        (("        return logits, s", "        return s, logits"),),
        "test_decoder_step",
        ("in this order",),
        rule="return the pair (logits, s), in this order",
    ),
    Mistake(
        "decoder step detaches the new state",
        "decoder_step",
        ((CELL, "        s = self.cell(x, s_prev).detach()\n"),),
        "test_decoder_step",
        (".detach()",),
        rule="both outputs stay differentiable",
    ),
    Mistake(
        "decoder step's output layer reads the previous state",
        "decoder_step",
        ((OUT, OUT.replace("[s, context]", "[s_prev, context]")),),
        "test_decoder_logits",
        ("new state",),
        rule="the output layer reads the new state",
    ),
    Mistake(
        "decoder step's output layer reads [context; s]",
        "decoder_step",
        ((OUT, OUT.replace("[s, context]", "[context, s]")),),
        "test_decoder_logits",
        ("the state first",),
        rule="[s_t; context], the state first",
    ),
    Mistake(
        "decoder step's output layer forgets the context",
        "decoder_step",
        ((OUT, "        logits = self.out(s)\n"),),
        "test_decoder_logits",
        ("[s_t; context]",),
        rule="logits = W_o [s_t; c] + b_o",
    ),
    # 3a. teacher forcing
    Mistake(
        "teacher forcing skips the <sos> column",
        "teacher_forcing",
        (("range(tgt_in.size(1))", "range(1, tgt_in.size(1))"),),
        "test_teacher_forcing",
        ("one model.step per column",),
        rule="one step per column, the <sos> column included",
    ),
    Mistake(
        "teacher forcing shifts the inputs twice (prepends its own <sos>)",
        "teacher_forcing",
        (
            (
                "    for t in range(tgt_in.size(1)):\n" + STEP,
                "    y = torch.ones_like(tgt_in[:, 0])  # <sos>\n"
                "    for t in range(tgt_in.size(1)):\n"
                "        logits_t, state = model.step(y, state)\n"
                "        y = tgt_in[:, t]\n",
            ),
        ),
        "test_teacher_forcing",
        ("reference column tgt_in[:, t]",),
        rule="feed tgt_in[:, t] at step t",
    ),
    Mistake(
        "teacher forcing feeds the model's own guesses",
        "teacher_forcing",
        (
            (
                "    for t in range(tgt_in.size(1)):\n" + STEP,
                "    y = tgt_in[:, 0]\n"
                "    for t in range(tgt_in.size(1)):\n"
                "        logits_t, state = model.step(y, state)\n"
                "        y = logits_t.argmax(dim=-1)\n",
            ),
        ),
        "test_teacher_forcing",
        ("not the model's guess",),
        rule="the input at step t is the reference word",
    ),
    Mistake(
        "teacher forcing does not carry the state",
        "teacher_forcing",
        ((STEP, "        logits_t, _ = model.step(tgt_in[:, t], state)\n"),),
        "test_teacher_forcing",
        ("carry the state",),
        rule="the state the previous step returned",
    ),
    Mistake(
        "teacher forcing detaches the state between steps",
        "teacher_forcing",
        (
            (
                STEP,
                STEP
                + "        state = state.detach() if torch.is_tensor(state) else tuple(x.detach() for x in state)\n",
            ),
        ),
        "test_teacher_forcing",
        ("do not .detach() the state",),
        rule="keep the logits differentiable",
    ),
    Mistake(
        "teacher forcing calls model.encoder directly",
        "teacher_forcing",
        (
            (
                "    state = model.encode(src, src_lengths)\n",
                "    _, context = model.encoder(src, src_lengths)\n    state = (context, context)\n",
            ),
        ),
        "test_teacher_forcing",
        ("model.encode(src, src_lengths)",),
        rule="use only model.encode and model.step",
    ),
    Mistake(
        "teacher forcing stacks along dim 0",
        "teacher_forcing",
        (("torch.stack(logits, dim=1)", "torch.stack(logits)"),),
        "test_teacher_forcing",
        ("dim 1",),
        rule="stack into (B, T, V)",
    ),
    Mistake(
        "teacher forcing detaches the logits",
        "teacher_forcing",
        (("        logits.append(logits_t)", "        logits.append(logits_t.detach())"),),
        "test_teacher_forcing",
        (".detach()",),
        rule="keep the logits differentiable",
    ),
    # 3b. the masked loss
    Mistake(
        "masked loss averages over the padding too",
        "masked_ce",
        ((MASK + LOSS, "    return nll.mean()"),),
        "test_masked_ce",
        ("the padding must not count",),
        rule="padding positions add nothing and do not count",
    ),
    Mistake(
        "masked loss divides by B*T",
        "masked_ce",
        ((LOSS, "    return (nll * mask).sum() / targets.numel()"),),
        "test_masked_ce",
        ("not by B*T",),
        rule="divide by the number of real positions",
    ),
    Mistake(
        "masked loss averages per sentence, then over sentences",
        "masked_ce",
        ((LOSS, "    return ((nll * mask).sum(dim=1) / mask.sum(dim=1)).mean()"),),
        "test_masked_ce",
        ("not a mean per sentence",),
        rule="one average over all N real positions",
    ),
    Mistake(
        "masked loss masks a literal 0",
        "masked_ce",
        ((MASK, MASK.replace("pad_id", "0")),),
        "test_masked_ce",
        ("pad_id argument",),
        rule="the padding id is the pad_id argument",
    ),
    Mistake(
        "masked loss takes log_softmax over the time axis",
        "masked_ce",
        (("F.log_softmax(logits, dim=-1)", "F.log_softmax(logits, dim=1)"),),
        "test_masked_ce",
        ("dim=-1",),
        rule="log_softmax over the vocabulary axis",
    ),
    Mistake(
        "masked loss takes log of softmax",
        "masked_ce",
        (("F.log_softmax(logits, dim=-1)", "torch.log(F.softmax(logits, dim=-1))"),),
        "test_masked_ce",
        ("F.log_softmax",),
        rule="use F.log_softmax",
    ),
    Mistake(
        "masked loss calls F.cross_entropy",
        "masked_ce",
        (
            (
                LOSS,
                "    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), "
                "ignore_index=pad_id)",
            ),
        ),
        "test_masked_ce",
        ("not to use",),
        rule="do not use F.cross_entropy",
    ),
    Mistake(
        "masked loss calls F.nll_loss",
        "masked_ce",
        (
            (
                LOSS,
                "    return F.nll_loss(log_probs.reshape(-1, logits.size(-1)), targets.reshape(-1), "
                "ignore_index=pad_id)",
            ),
        ),
        "test_masked_ce",
        ("not to use",),
        rule="do not use F.nll_loss",
    ),
    Mistake(
        "masked loss returns a Python number",
        "masked_ce",
        ((LOSS, "    return ((nll * mask).sum() / mask.sum()).item()"),),
        "test_masked_ce",
        ("not loss.item()",),
        rule="a 0-dim tensor that keeps its gradient; " + TRAINING,
        also_fails=("test_training",),
    ),
    Mistake(
        "masked loss forgets the minus sign",
        "masked_ce",
        (("    nll = -log_probs", "    nll = log_probs"),),
        "test_masked_ce",
        ("minus sign",),
        rule="L = -(1/N) sum log P",
    ),
    # 5. greedy decoding
    Mistake(
        "greedy decoding forgets the decorator",
        "greedy",
        (("@torch.no_grad()\n", ""),),
        "test_greedy",
        ("@torch.no_grad()",),
        rule="keep the @torch.no_grad() decorator",
    ),
    Mistake(
        "greedy decoding starts from a literal 1",
        "greedy",
        (("(src.size(0),), sos_id,", "(src.size(0),), 1,"),),
        "test_greedy",
        ("sos_id argument",),
        rule="start from sos_id",
    ),
    Mistake(
        "greedy decoding returns the <sos> column too",
        "greedy",
        (("    out = []\n", "    out = [y]\n"),),
        "test_greedy",
        ("without the leading <sos>",),
        rule="the <sos> it starts from is not in the output",
    ),
    Mistake(
        "greedy decoding feeds <sos> at every step",
        "greedy",
        (
            (
                "        logits, state = model.step(y, state)\n",
                "        logits, state = model.step(torch.full_like(y, sos_id), state)\n",
            ),
        ),
        "test_greedy",
        ("feed back",),
        rule="feed back the argmax",
    ),
    Mistake(
        "greedy decoding does not carry the state",
        "greedy",
        (
            ("    state = model.encode(src, src_lengths)\n", "    start = model.encode(src, src_lengths)\n"),
            ("        logits, state = model.step(y, state)\n", "        logits, _ = model.step(y, start)\n"),
        ),
        "test_greedy",
        ("carry the state",),
        rule="the state the previous step returned",
    ),
    Mistake(
        "greedy decoding takes the argmax over the batch",
        "greedy",
        ((ARGMAX, ARGMAX.replace("dim=-1", "dim=0")),),
        "test_greedy",
        ("argmax(dim=-1)",),
        rule="argmax over the vocabulary; the wrong axis makes greedy_decode crash on any batch, so the "
        "other greedy tests fail too (saying to fix test_greedy first)",
        also_fails=("test_greedy_eos", "test_greedy_stop"),
    ),
    Mistake(
        "greedy decoding makes max_len - 1 steps",
        "greedy",
        (("range(max_len)", "range(max_len - 1)"),),
        "test_greedy",
        ("after max_len steps",),
        rule="stop after max_len steps",
    ),
    Mistake(
        "greedy decoding ignores max_len",
        "greedy",
        (("    for _ in range(max_len):\n", "    while True:\n"),),
        "test_greedy",
        ("max_len",),
        rule="stop after max_len steps",
    ),
    Mistake(
        "greedy decoding fills a float tensor",
        "greedy",
        (
            ("    out = []\n", "    out = torch.zeros(src.size(0), max_len)\n    steps = 0\n"),
            ("        out.append(y)\n", "        out[:, steps] = y\n        steps += 1\n"),
            ("    return torch.stack(out, dim=1)", "    return out[:, :steps]"),
        ),
        "test_greedy",
        ("LongTensor",),
        rule="a (B, T) LongTensor",
    ),
    Mistake(
        "greedy decoding keeps the model's words after <eos>",
        "greedy",
        ((ARGMAX, "        y = logits.argmax(dim=-1)\n"),),
        "test_greedy_eos",
        ("`done` mask", "eos_id"),
        rule="after <eos> a sentence's entries are <eos>",
    ),
    Mistake(
        "greedy decoding compares with a literal 2",
        "greedy",
        (("        done = done | (y == eos_id)\n", "        done = done | (y == 2)\n"),),
        "test_greedy_eos",
        ("not a literal 2",),
        rule="use the eos_id argument",
    ),
    Mistake(
        "greedy decoding stops at the first <eos>",
        "greedy",
        ((STOP, "        if done.any():\n            break\n"),),
        "test_greedy_stop",
        ("every sentence",),
        rule="stop when every sentence is finished",
    ),
    Mistake(
        "greedy decoding stops before writing the last <eos>",
        "greedy",
        (
            (
                "        out.append(y)\n        done = done | (y == eos_id)\n" + STOP,
                "        done = done | (y == eos_id)\n" + STOP + "        out.append(y)\n",
            ),
        ),
        "test_greedy_stop",
        ("before you stop",),
        rule="each sentence's <eos> is in the output",
    ),
    Mistake(
        "greedy decoding never stops early",
        "greedy",
        ((STOP, ""),),
        "test_greedy_stop",
        ("every sentence",),
        rule="stop as soon as every sentence is finished",
    ),
]
