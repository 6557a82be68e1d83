"""The channel-scale batch path: collect comments from the YouTube Data API (``collect``), score them, report."""
