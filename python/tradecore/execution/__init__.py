"""Orders, the paper broker, the portfolio and the bot's state store."""
