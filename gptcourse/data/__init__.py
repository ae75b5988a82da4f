"""The course's data, all generated from seeds (nothing is downloaded).

- :mod:`gptcourse.data.translation_task`  the toy translation task of chapters 1-3 (grammar, vocabularies, splits, batches)
- :mod:`gptcourse.data.gpt1_data`         chapter 4's unlabelled corpus and its small labelled tasks
- :mod:`gptcourse.data.mini_webtext`      chapter 6's generated "mini-WebText" and its zero-shot evaluation sets
"""
