"""`ytsentiment demo`: the system end to end on one machine (``cli``), a YouTube Data API v3 stand-in shared with
the tests (``youtube_standin``), the synthetic channel it serves (``synthetic``), the served model (``model``) and
the API process (``servers``)."""
