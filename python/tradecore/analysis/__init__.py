"""Market analysis on closed bars: bar series with cached TA-Lib indicators, regime detection."""
