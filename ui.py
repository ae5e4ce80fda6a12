"""Page helpers shared by the app's pages (widgets only: every computation is a w2v.studio call).

Sections: corpus picking and reading with progress (Corpus and Train pages); choosing and loading
vectors (Neighbours, Map and Compare pages).
"""

# ---------------------------------------------------------------- corpus pages

# ---------------------------------------------------------------- explore pages
