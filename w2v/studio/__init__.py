"""What the app's pages compute, one concept per module. Numpy only: no torch, no streamlit.

    paths        the app's folders (runs, corpora, vectors, cache) from the environment
    uploads      storing an uploaded corpus or vectors file: checked, never overwriting
"""
