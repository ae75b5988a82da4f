"""Chapter 2: slips in the scores, the masked softmax, the context vector and the attention decoder step."""

from mistakes import Mistake

DOT = "    return torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)"
ADD_HIDDEN = "        hidden = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))"
ADD_RETURN = "        return self.v(hidden).squeeze(-1)"
FILL = '    scores = scores.masked_fill(~mask, float("-inf"))'
SOFTMAX = "    return torch.softmax(scores, dim=-1)"
CONTEXT = "    return torch.bmm(weights.unsqueeze(1), values).squeeze(1)"
ALPHA = "        alpha = masked_softmax(self.score(s_prev, enc_states), src_mask)"
C_T = "        context = context_vector(alpha, enc_states)"
STEP = "        logits, s = self.step(y_prev, s_prev, context)"
RETURN = "        return logits, s, alpha"

MISTAKES = [
    # 1. dot_score
    Mistake(
        "dot_score squeezes every length-1 axis",
        "dot_score",
        ((DOT, DOT.replace(".squeeze(-1)", ".squeeze()")),),
        "test_dot_score",
        ("squeeze only the last axis",),
        rule="(B, S) also for B = 1",
    ),
    Mistake(
        "dot_score multiplies by every sentence's query (no batched product)",
        "dot_score",
        ((DOT, "    return (keys @ query.T).squeeze(-1)"),),
        "test_dot_score",
        ("that sentence's keys",),
        rule="each sentence's query with its own keys",
    ),
    Mistake(
        "dot_score loops over the sentences",
        "dot_score",
        ((DOT, "    return torch.stack([keys[b] @ query[b] for b in range(keys.size(0))])"),),
        "test_dot_score",
        ("no for loop",),
        rule="no Python loop",
    ),
    Mistake(
        "dot_score forgets `return`",
        "dot_score",
        ((DOT, DOT.replace("return ", "scores = ")),),
        "test_dot_score",
        ("return",),
    ),
    # 2. AdditiveScore
    Mistake(
        "AdditiveScore without tanh",
        "additive_score",
        ((ADD_HIDDEN, "        hidden = self.W_q(query).unsqueeze(1) + self.W_k(keys)"),),
        "test_additive_score",
        ("tanh",),
        rule="v^T tanh(W_q s + W_k h_i)",
    ),
    Mistake(
        "AdditiveScore swaps W_q and W_k",
        "additive_score",
        ((ADD_HIDDEN, "        hidden = torch.tanh(self.W_k(query).unsqueeze(1) + self.W_q(keys))"),),
        "test_additive_score",
        ("self.W_q takes the query",),
        rule="W_q for the query, W_k for the keys",
    ),
    Mistake(
        "AdditiveScore sums the hidden layer instead of applying v",
        "additive_score",
        ((ADD_RETURN, "        return hidden.sum(-1)"),),
        "test_additive_score",
        ("self.v",),
        rule="then self.v",
    ),
    Mistake(
        "AdditiveScore unsqueezes the batch axis of the query",
        "additive_score",
        ((ADD_HIDDEN, ADD_HIDDEN.replace("unsqueeze(1)", "unsqueeze(0)")),),
        "test_additive_score",
        (".unsqueeze(1)",),
        rule="a length-1 source axis (.unsqueeze(1))",
    ),
    Mistake(
        "AdditiveScore squeezes every length-1 axis",
        "additive_score",
        ((ADD_RETURN, ADD_RETURN.replace("squeeze(-1)", "squeeze()")),),
        "test_additive_score_rules",
        ("squeeze only the last axis",),
        rule="drop the last axis only",
    ),
    Mistake(
        "AdditiveScore gives v a bias (nn.Linear(d_attn, 1))",
        "additive_score",
        (("        self.v = nn.Linear(d_attn, 1, bias=False)", "        self.v = nn.Linear(d_attn, 1)"),),
        "test_additive_score_rules",
        ("bias=False",),
        rule="the layers as given, no bias",
    ),
    # 3. masked_softmax
    Mistake(
        "masked_softmax with the mask's meaning inverted",
        "masked_softmax",
        ((FILL, FILL.replace("~mask", "mask")),),
        "test_masked_softmax",
        ("~mask",),
        rule="True at real words, False at padding",
    ),
    Mistake(
        "masked_softmax over the batch axis",
        "masked_softmax",
        ((SOFTMAX, SOFTMAX.replace("dim=-1", "dim=0")),),
        "test_masked_softmax",
        ("dim=-1",),
        rule="a softmax over the source positions",
    ),
    Mistake(
        "masked_softmax zeroes the padded scores instead of -inf",
        "masked_softmax",
        ((FILL, "    scores = scores * mask"),),
        "test_masked_softmax",
        ("float('-inf')", "exactly 0"),
        rule="padding gets weight exactly 0",
    ),
    Mistake(
        "masked_softmax fills with -1e9",
        "masked_softmax",
        ((FILL, "    scores = scores.masked_fill(~mask, -1e9)"),),
        "test_masked_softmax_rules",
        ("float('-inf')", "-1e9"),
        rule="float('-inf'), not a large negative number",
    ),
    Mistake(
        "masked_softmax fills the scores in place",
        "masked_softmax",
        ((FILL, '    scores.masked_fill_(~mask, float("-inf"))'),),
        "test_masked_softmax_rules",
        ("in place", "unchanged"),
        rule="leave scores and mask unchanged",
    ),
    Mistake(
        "masked_softmax exponentiates without subtracting the maximum",
        "masked_softmax",
        ((SOFTMAX, "    exp = torch.exp(scores)\n    return exp / exp.sum(dim=-1, keepdim=True)"),),
        "test_masked_softmax_rules",
        ("overflows", "torch.softmax"),
        rule="no overflow for large scores",
    ),
    Mistake(
        "masked_softmax computes in float32",
        "masked_softmax",
        ((SOFTMAX, "    return torch.softmax(scores, dim=-1, dtype=torch.float32)"),),
        "test_masked_softmax_rules",
        ("dtype",),
        rule="keep the dtype of the scores",
    ),
    Mistake(
        "masked_softmax copies the scores with torch.tensor (the gradient is cut)",
        "masked_softmax",
        ((FILL, '    scores = torch.tensor(scores).masked_fill(~mask, float("-inf"))'),),
        "test_training",
        ("masked_softmax", "torch.tensor(...)"),
        rule="gradients flow through every piece",
    ),
    # 4. context_vector
    Mistake(
        "context_vector squeezes every length-1 axis",
        "context_vector",
        ((CONTEXT, CONTEXT.replace(").squeeze(1)", ").squeeze()")),),
        "test_context_vector",
        ("squeeze only",),
        rule="(B, H) also for B = 1 or H = 1",
    ),
    Mistake(
        "context_vector averages instead of summing",
        "context_vector",
        ((CONTEXT, "    return (weights.unsqueeze(-1) * values).mean(1)"),),
        "test_context_vector",
        ("not a mean",),
        rule="the weighted sum",
    ),
    Mistake(
        "context_vector loops over the sentences",
        "context_vector",
        ((CONTEXT, "    return torch.stack([weights[b] @ values[b] for b in range(len(weights))])"),),
        "test_context_vector",
        ("no for loop",),
        rule="no Python loop",
    ),
    Mistake(
        "context_vector forgets to transpose the values",
        "context_vector",
        ((CONTEXT, "    return torch.bmm(values, weights.unsqueeze(-1)).squeeze(-1)"),),
        "test_context_vector",
        ("(B, 1, S)",),
        rule="one batched matrix product",
    ),
    Mistake(
        "context_vector detaches the weights (the gradient is cut)",
        "context_vector",
        ((CONTEXT, "    return torch.bmm(weights.detach().unsqueeze(1), values).squeeze(1)"),),
        "test_training",
        ("context_vector", ".detach()"),
        rule="gradients flow through every piece",
    ),
    # 5. AttentionDecoderStep
    Mistake(
        "AttentionDecoderStep does not pass the mask on",
        "attention_step",
        ((ALPHA, "        alpha = torch.softmax(self.score(s_prev, enc_states), dim=-1)"),),
        "test_attention_step_weights",
        ("src_mask",),
        rule="masked_softmax with src_mask",
    ),
    Mistake(
        "AttentionDecoderStep inverts the mask",
        "attention_step",
        ((ALPHA, ALPHA.replace("src_mask)", "~src_mask)")),),
        "test_attention_step_weights",
        ("as it is",),
        rule="src_mask as given (True at real words)",
    ),
    Mistake(
        "AttentionDecoderStep scores the new state (the context comes after the step)",
        "attention_step",
        (
            (
                ALPHA,
                "        _, s_new = self.step(y_prev, s_prev, enc_states[:, -1])\n"
                "        alpha = masked_softmax(self.score(s_new, enc_states), src_mask)",
            ),
        ),
        "test_attention_step_weights",
        ("PREVIOUS state s_prev",),
        rule="the query is s_prev",
    ),
    Mistake(
        "AttentionDecoderStep calls dot_score instead of self.score",
        "attention_step",
        ((ALPHA, ALPHA.replace("self.score(", "dot_score(")),),
        "test_attention_step_weights",
        ("self.score",),
        rule="call self.score",
    ),
    Mistake(
        "AttentionDecoderStep uses chapter 1's context (the last encoder state)",
        "attention_step",
        ((C_T, "        context = enc_states[:, -1]"),),
        "test_attention_step_context",
        ("context_vector(alpha, enc_states)",),
        rule="the context of this step",
    ),
    Mistake(
        "AttentionDecoderStep swaps the state and the context in self.step",
        "attention_step",
        ((STEP, "        logits, s = self.step(y_prev, context, s_prev)"),),
        "test_attention_step_context",
        ("self.step(y_prev, s_prev, c_t)",),
        rule="self.step(y_prev, s_prev, context)",
    ),
    Mistake(
        "AttentionDecoderStep returns the previous state",
        "attention_step",
        ((RETURN, "        return logits, s_prev, alpha"),),
        "test_attention_step_context",
        ("not s_prev",),
        rule="return the new state",
    ),
    Mistake(
        "AttentionDecoderStep returns (logits, alpha, s)",
        "attention_step",
        ((RETURN, "        return logits, alpha, s"),),
        "test_attention_step",
        ("(logits, s, alpha)",),
        rule="(logits, s, alpha) in this order",
    ),
    Mistake(
        "AttentionDecoderStep forgets `return`",
        "attention_step",
        ((RETURN, "        out = logits, s, alpha"),),
        "test_attention_step",
        ("return logits, s, alpha",),
        also_fails=("test_attention_step_weights", "test_attention_step_context"),
        rule="returns (logits, s, alpha); nothing returned fails all three of the step's test cells",
    ),
    Mistake(
        "AttentionDecoderStep detaches the weights before the context (the gradient is cut)",
        "attention_step",
        ((C_T, "        context = context_vector(alpha.detach(), enc_states)"),),
        "test_training",
        ("AttentionDecoderStep", ".detach()"),
        rule="gradients flow through every piece",
    ),
]
