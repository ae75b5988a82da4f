"""Chapter 6: slips in continuation_logprob, cloze_choice, sliding_window_perplexity and few_shot_prompt."""

from mistakes import Mistake

LOGP = "        logp = torch.log_softmax(model(ids)[0].float(), dim=-1)\n"
POSITIONS = "    positions = torch.arange(len(p) - 1, len(p) + len(c) - 1)\n"
PICK = "    return logp[positions, torch.tensor(c, dtype=torch.long)].sum().item()"
SCORES = '    scores = [continuation_logprob(model, tokenizer, prompt, " " + cand + after) for cand in candidates]\n'
BEST = "    return max(range(len(candidates)), key=lambda i: scores[i])"
CHUNK = "        chunk = ids[start : start + window]\n"
PPL_LOGP = "            logp = torch.log_softmax(model(chunk[None])[0].float(), dim=-1)\n"
TARGETS = "        targets = torch.arange(next_to_score, start + len(chunk))\n"
TOTAL = "        total -= logp[targets - start - 1, ids[targets]].sum().item()\n"
RETURN_PPL = "    return math.exp(total / count)"
CHECK = "    if not 0 < stride < window:\n"
LINES = "    lines = [] if instruction is None else [instruction]\n"
EXAMPLES = "    lines += [template.format(x=x, y=y) for x, y in examples]\n"
QUERY = '    lines.append(template.split("{y}")[0].format(x=query).rstrip())\n'
JOIN = "    return sep.join(lines)"

MISTAKES = [
    # ---- continuation_logprob: the values (test_continuation_logprob) ----
    Mistake(
        "continuation_logprob forgets the shift (logits at t score token t)",
        "continuation_logprob",
        ((POSITIONS, "    positions = torch.arange(len(p), len(p) + len(c))\n"),),
        "test_continuation_logprob",
        ("last position",),
        rule="c_1 is scored by the logits at position n - 1",
    ),
    Mistake(
        "continuation_logprob scores the prompt's tokens too",
        "continuation_logprob",
        (
            (
                POSITIONS + PICK,
                "    positions = torch.arange(0, len(p) + len(c) - 1)\n"
                "    return logp[positions, torch.tensor(p + c, dtype=torch.long)[1:]].sum().item()",
            ),
        ),
        "test_continuation_logprob",
        ("only the continuation's tokens",),
        rule="only the continuation's tokens",
    ),
    Mistake(
        "continuation_logprob returns the mean, not the sum",
        "continuation_logprob",
        ((".sum().item()", ".mean().item()"),),
        "test_continuation_logprob",
        ("not the mean",),
        rule="the sum of the continuation tokens' log-probabilities",
    ),
    Mistake(
        "continuation_logprob in base 10",
        "continuation_logprob",
        ((LOGP, "        logp = torch.log_softmax(model(ids)[0].float(), dim=-1) / math.log(10)\n"),),
        "test_continuation_logprob",
        ("natural log",),
        rule="natural log",
    ),
    Mistake(
        "continuation_logprob reads the raw logits (no log_softmax)",
        "continuation_logprob",
        ((LOGP, "        logp = model(ids)[0].float()\n"),),
        "test_continuation_logprob",
        ("log_softmax",),
        rule="torch.log_softmax of the logits",
    ),
    Mistake(
        "continuation_logprob gathers along the wrong axis",
        "continuation_logprob",
        ((PICK, "    return logp[positions].gather(0, torch.tensor(c, dtype=torch.long)[:, None]).sum().item()"),),
        "test_continuation_logprob",
        ("vocabulary axis",),
    ),
    Mistake(
        "continuation_logprob returns a tensor",
        "continuation_logprob",
        ((".sum().item()", ".sum()"),),
        "test_continuation_logprob",
        (".item()",),
        rule="a Python float",
    ),
    Mistake(
        "continuation_logprob forgets `return`",
        "continuation_logprob",
        ((PICK, "    score = logp[positions, torch.tensor(c, dtype=torch.long)].sum().item()"),),
        "test_continuation_logprob",
        ("return",),
    ),
    Mistake(
        "continuation_logprob indexes with a float tensor (breaks on an empty continuation)",
        "continuation_logprob",
        (("torch.tensor(c, dtype=torch.long)", "torch.tensor(c)"),),
        "test_continuation_logprob",
        ("empty continuation", "LongTensor"),
        rule="an empty continuation has log-probability 0",
    ),
    Mistake(
        "continuation_logprob runs the model on a 1-D tensor",
        "continuation_logprob",
        (
            ("    ids = torch.tensor([p + c])\n", "    ids = torch.tensor(p + c)\n"),
            (LOGP, "        logp = torch.log_softmax(model(ids).float(), dim=-1)\n"),
        ),
        "test_continuation_logprob",
        ("(1, n + m)",),
        rule="a batch of one, shape (1, n + m)",
    ),
    # ---- continuation_logprob: how it is computed (test_continuation_logprob_rules) ----
    Mistake(
        "continuation_logprob encodes prompt + continuation in one go",
        "continuation_logprob",
        (
            (
                "    p, c = tokenizer.encode(prompt), tokenizer.encode(continuation)\n",
                "    p = tokenizer.encode(prompt)\n    c = tokenizer.encode(prompt + continuation)[len(p):]\n",
            ),
        ),
        "test_continuation_logprob_rules",
        ("separately",),
        rule="encode the prompt and the continuation separately",
    ),
    Mistake(
        "continuation_logprob uses the notebook's `tok`",
        "continuation_logprob",
        (
            (
                "    p, c = tokenizer.encode(prompt), tokenizer.encode(continuation)\n",
                "    p, c = tok.encode(prompt), tok.encode(continuation)\n",
            ),
        ),
        "test_continuation_logprob_rules",
        ("`tokenizer` argument",),
        rule="the tokenizer argument",
    ),
    Mistake(
        "continuation_logprob runs the model once per continuation token",
        "continuation_logprob",
        (
            (
                "    ids = torch.tensor([p + c])\n    with torch.no_grad():\n" + LOGP + POSITIONS + PICK,
                "    total = 0.0\n"
                "    for j in range(len(c)):\n"
                "        with torch.no_grad():\n"
                "            logits = model(torch.tensor([p + c[:j]]))[0, -1]\n"
                "        total += torch.log_softmax(logits, dim=-1)[c[j]].item()\n"
                "    return total",
            ),
        ),
        "test_continuation_logprob_rules",
        ("once",),
        rule="run the model once",
    ),
    Mistake(
        "continuation_logprob without torch.no_grad()",
        "continuation_logprob",
        (("    with torch.no_grad():\n" + LOGP, "    logp = torch.log_softmax(model(ids)[0].float(), dim=-1)\n"),),
        "test_continuation_logprob_rules",
        ("torch.no_grad()",),
        rule="inside torch.no_grad()",
    ),
    Mistake(
        "continuation_logprob takes the log of a softmax",
        "continuation_logprob",
        ((LOGP, "        logp = torch.log(torch.softmax(model(ids)[0].float(), dim=-1))\n"),),
        "test_continuation_logprob_rules",
        ("log_softmax", "-inf"),
        rule="torch.log_softmax, not log(softmax)",
    ),
    Mistake(
        "continuation_logprob raises no ValueError",
        "continuation_logprob",
        (('    if not p:\n        raise ValueError("the prompt must encode to at least one token")\n', ""),),
        "test_continuation_logprob_rules",
        ("ValueError",),
        rule="ValueError for a prompt of no token",
    ),
    Mistake(
        "continuation_logprob tests the prompt string, not its ids",
        "continuation_logprob",
        (("    if not p:\n", "    if not prompt:\n"),),
        "test_continuation_logprob_rules",
        ("encodes to no token", "prompt's ids"),
        rule="ValueError if the prompt encodes to no token",
    ),
    # ---- cloze_choice: the choice (test_cloze_choice) ----
    Mistake(
        "cloze_choice ignores the words after the gap",
        "cloze_choice",
        (('" " + cand + after', '" " + cand'),),
        "test_cloze_choice",
        ("after the gap",),
        rule='the continuation is " " + candidate + after',
    ),
    Mistake(
        "cloze_choice divides by the number of tokens",
        "cloze_choice",
        (
            (
                SCORES,
                SCORES + '    scores = [s / len(tokenizer.encode(" " + cand + after)) '
                "for s, cand in zip(scores, candidates)]\n",
            ),
        ),
        "test_cloze_choice",
        ("do not divide",),
        rule="compare the sums, not per-token scores",
    ),
    Mistake(
        "cloze_choice returns the last of tied candidates",
        "cloze_choice",
        (
            (
                BEST,
                "    best = 0\n    for j in range(len(candidates)):\n"
                "        if scores[j] >= scores[best]:\n            best = j\n    return best",
            ),
        ),
        "test_cloze_choice",
        ("tie", "first"),
        rule="on a tie, the first",
    ),
    Mistake(
        "cloze_choice returns an argmax tensor",
        "cloze_choice",
        ((BEST, "    return torch.tensor(scores).argmax()"),),
        "test_cloze_choice",
        ("int",),
        rule="the index, a Python int",
    ),
    Mistake(
        "cloze_choice returns the word",
        "cloze_choice",
        ((BEST, "    return candidates[max(range(len(candidates)), key=lambda i: scores[i])]"),),
        "test_cloze_choice",
        ("position in `candidates`",),
        rule="the index, not the candidate",
    ),
    Mistake(
        "cloze_choice picks the lowest score",
        "cloze_choice",
        ((BEST, "    return min(range(len(candidates)), key=lambda i: scores[i])"),),
        "test_cloze_choice",
        ("highest log-probability",),
    ),
    # ---- cloze_choice: what it asks continuation_logprob (test_cloze_choice_rules) ----
    Mistake(
        "cloze_choice keeps the space before the gap in the prompt",
        "cloze_choice",
        (("    prompt = before.rstrip()\n", "    prompt = before\n"),),
        "test_cloze_choice_rules",
        ("rstrip",),
        rule="the prompt is before with trailing spaces removed",
    ),
    Mistake(
        "cloze_choice drops the candidate's leading space",
        "cloze_choice",
        (('" " + cand + after', "cand + after"),),
        "test_cloze_choice_rules",
        ("' ' + candidate + after",),
        rule='the continuation is " " + candidate + after',
    ),
    Mistake(
        "cloze_choice splits at BLANK, not at the blank argument",
        "cloze_choice",
        (("    before, after = text.split(blank)\n", "    before, after = text.split(BLANK)\n"),),
        "test_cloze_choice_rules",
        ("`blank` argument",),
        rule="split at the blank argument",
    ),
    # ---- sliding_window_perplexity: the windows and the value (test_sliding_window_perplexity) ----
    Mistake(
        "sliding_window_perplexity takes window + 1 tokens",
        "sliding_window_perplexity",
        ((CHUNK, "        chunk = ids[start : start + window + 1]\n"),),
        "test_sliding_window_perplexity",
        ("k * stride + window",),
        rule="window k covers [k * stride, k * stride + window)",
    ),
    Mistake(
        "sliding_window_perplexity stops before the last tokens",
        "sliding_window_perplexity",
        (("    while next_to_score < len(ids):\n", "    while start + window < len(ids):\n"),),
        "test_sliding_window_perplexity",
        ("until every token is scored",),
        rule="every token but the first is scored",
    ),
    Mistake(
        "sliding_window_perplexity counts overlapped tokens twice",
        "sliding_window_perplexity",
        ((TARGETS, "        targets = torch.arange(start + 1, start + len(chunk))\n"),),
        "test_sliding_window_perplexity",
        ("exactly once",),
        rule="each token scored exactly once",
    ),
    Mistake(
        "sliding_window_perplexity forgets the shift",
        "sliding_window_perplexity",
        ((TOTAL, "        total -= logp[targets - start, ids[targets]].sum().item()\n"),),
        "test_sliding_window_perplexity",
        ("t - start - 1",),
        rule="token t is scored at index t - start - 1",
    ),
    Mistake(
        "sliding_window_perplexity divides by N, counting u_0",
        "sliding_window_perplexity",
        ((RETURN_PPL, "    return math.exp(total / len(ids))"),),
        "test_sliding_window_perplexity",
        ("N - 1",),
        rule="the mean over the N - 1 scored tokens",
    ),
    Mistake(
        "sliding_window_perplexity exponentiates the sum",
        "sliding_window_perplexity",
        ((RETURN_PPL, "    return math.exp(total)"),),
        "test_sliding_window_perplexity",
        ("mean",),
        rule="exp of the mean negative log-likelihood",
    ),
    Mistake(
        "sliding_window_perplexity uses base 2",
        "sliding_window_perplexity",
        ((RETURN_PPL, "    return 2 ** (total / count)"),),
        "test_sliding_window_perplexity",
        ("exp",),
        rule="exp (natural log)",
    ),
    Mistake(
        "sliding_window_perplexity forgets to move the window",
        "sliding_window_perplexity",
        (("        start += stride\n", ""),),
        "test_sliding_window_perplexity",
        ("does your loop end",),
    ),
    Mistake(
        "sliding_window_perplexity runs the model on a 1-D window",
        "sliding_window_perplexity",
        ((PPL_LOGP, "            logp = torch.log_softmax(model(chunk).float(), dim=-1)\n"),),
        "test_sliding_window_perplexity",
        ("(1, L)",),
        rule="a batch of one, shape (1, L)",
    ),
    Mistake(
        "sliding_window_perplexity returns a tensor",
        "sliding_window_perplexity",
        ((RETURN_PPL, "    return torch.exp(torch.tensor(total / count))"),),
        "test_sliding_window_perplexity",
        ("math.exp",),
        rule="a Python float",
    ),
    Mistake(
        "sliding_window_perplexity forgets `return`",
        "sliding_window_perplexity",
        ((RETURN_PPL, "    perplexity = math.exp(total / count)"),),
        "test_sliding_window_perplexity",
        ("return",),
    ),
    # ---- sliding_window_perplexity: the rules (test_sliding_window_perplexity_rules) ----
    Mistake(
        "sliding_window_perplexity raises no ValueError",
        "sliding_window_perplexity",
        (
            (
                CHECK + '        raise ValueError(f"need 0 < stride < window, got stride={stride}, window={window}")\n',
                "",
            ),
        ),
        "test_sliding_window_perplexity_rules",
        ("0 < stride < window",),
        rule="ValueError unless 0 < stride < window",
    ),
    Mistake(
        "sliding_window_perplexity lets stride 0 through",
        "sliding_window_perplexity",
        ((CHECK, "    if stride >= window:\n"),),
        "test_sliding_window_perplexity_rules",
        ("stride=0", "ValueError"),
        rule="ValueError unless 0 < stride",
    ),
    Mistake(
        "sliding_window_perplexity allows stride == window",
        "sliding_window_perplexity",
        ((CHECK, "    if not 0 < stride <= window:\n"),),
        "test_sliding_window_perplexity_rules",
        ("stride=8",),
        rule="ValueError unless stride < window",
    ),
    Mistake(
        "sliding_window_perplexity without torch.no_grad()",
        "sliding_window_perplexity",
        (
            (
                "        with torch.no_grad():\n" + PPL_LOGP,
                "        logp = torch.log_softmax(model(chunk[None])[0].float(), dim=-1)\n",
            ),
        ),
        "test_sliding_window_perplexity_rules",
        ("torch.no_grad()",),
        rule="inside torch.no_grad()",
    ),
    # ---- few_shot_prompt: examples and query (test_few_shot_prompt) ----
    Mistake(
        "few_shot_prompt keeps the trailing space of the query",
        "few_shot_prompt",
        ((".format(x=query).rstrip())", ".format(x=query))"),),
        "test_few_shot_prompt",
        ("rstrip",),
        rule="the query's trailing spaces removed",
    ),
    Mistake(
        "few_shot_prompt ignores the template",
        "few_shot_prompt",
        ((EXAMPLES + QUERY, '    lines += [f"{x} = {y}" for x, y in examples]\n    lines.append(f"{query} =")\n'),),
        "test_few_shot_prompt",
        ("`template` argument",),
        rule="template.format(x=x, y=y)",
    ),
    Mistake(
        "few_shot_prompt ends with sep",
        "few_shot_prompt",
        ((JOIN, '    return "".join(line + sep for line in lines)'),),
        "test_few_shot_prompt",
        ("nothing after the query",),
        rule="parts joined by sep",
    ),
    Mistake(
        "few_shot_prompt puts the examples in reverse order",
        "few_shot_prompt",
        (("for x, y in examples]", "for x, y in reversed(examples)]"),),
        "test_few_shot_prompt",
        ("given order",),
        rule="the examples in their given order",
    ),
    # ---- few_shot_prompt: sep and instruction (test_few_shot_prompt_options) ----
    Mistake(
        "few_shot_prompt always joins with a newline",
        "few_shot_prompt",
        ((JOIN, '    return "\\n".join(lines)'),),
        "test_few_shot_prompt_options",
        ("`sep` argument",),
        rule="join with sep",
    ),
    Mistake(
        "few_shot_prompt drops an empty instruction",
        "few_shot_prompt",
        ((LINES, "    lines = [instruction] if instruction else []\n"),),
        "test_few_shot_prompt_options",
        ("only instruction=none",),
        rule="the instruction only if it is not None",
    ),
    Mistake(
        "few_shot_prompt puts the instruction after the examples",
        "few_shot_prompt",
        (
            (
                LINES + EXAMPLES,
                "    lines = [template.format(x=x, y=y) for x, y in examples]\n"
                "    lines += [] if instruction is None else [instruction]\n",
            ),
        ),
        "test_few_shot_prompt_options",
        ("first part",),
        rule="the instruction comes first",
    ),
    Mistake(
        "few_shot_prompt glues the instruction on with a space",
        "few_shot_prompt",
        (
            (LINES, "    lines = []\n"),
            (JOIN, '    body = sep.join(lines)\n    return body if instruction is None else instruction + " " + body'),
        ),
        "test_few_shot_prompt_options",
        ("joined to them by sep",),
        rule="the instruction is a part joined by sep",
    ),
]
