"""What the app's pages compute, one concept per module. Numpy only: no torch, no streamlit.

    paths         the app's folders (runs, corpora, vectors) from the environment
    uploads       storing an uploaded corpus or vectors file: checked, bounded, never overwriting
    corpora       the corpora a page can pick from (the sample, then uploads)
    corpus_stats  what the Corpus page shows: counts, Zipf, vocabulary at a min_count, the pipeline,
                  phrases
    tables        a table corpus's preview and the column to offer as its text field
    form          the Train form, generated from TrainConfig's settings schema
    estimate      the pre-flight estimate; its calibration runs as its own trainer process
    jobs          training jobs: one at a time, launched, stopped, resumed, deleted
    feed          following a run's metrics.jsonl: the loss curve, neighbour changes, scores
    runlist       the one runs table and what a run's state means for the Train page
    sources       vector sources (runs, checkpoints, uploaded files) and loading them
    words         lookup, suggestions, neighbours, analogies, similarity
    concordance   the corpus lines and shared contexts behind "why are these neighbours?"
    compare       two sets of vectors side by side
    mapview       the Map page: words, projection, timeline, figure, exports
    mapjobs       maps computed in the background: a t-SNE / UMAP job per map, with limits
"""
