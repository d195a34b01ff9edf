"""Market data at rest: the Parquet store (:mod:`tradecore.data.store`), candle validation
(:mod:`tradecore.data.validate`) and downloading history into the store through ccxt
(:mod:`tradecore.data.history`)."""
