"""Market data at rest: the Parquet store (:mod:`tradecore.data.store`) and candle validation
(:mod:`tradecore.data.validate`)."""
