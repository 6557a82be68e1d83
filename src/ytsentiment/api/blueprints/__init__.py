"""The API's blueprints, one module per concern; ``create_app`` registers every one listed in ``BLUEPRINTS``.

==============  ===========================================================================
module          endpoints
==============  ===========================================================================
prediction      POST /predict, /predict_with_timestamps, /analyze (needs the model)
charts          POST /generate_chart, /generate_wordcloud, /generate_trend_graph (PNG)
feedback        POST /feedback (a person's label; needs the database, not the model; rate-limited)
operations      GET /health, /ready, /model, /metrics, /openapi.json; request metrics hooks
==============  ===========================================================================

Each module holds its request models (built per app from the limits), its routes and their OpenAPI entries
(see ``ytsentiment.api.endpoints``). A new concern is one new module plus its line here; what it needs from outside
the request (the database, a limiter) is an extension bound in ``ytsentiment.api.extensions``.
"""

from __future__ import annotations

from ytsentiment.api.blueprints import charts, feedback, operations, prediction

BLUEPRINTS = (prediction.bp, charts.bp, feedback.bp, operations.bp)
