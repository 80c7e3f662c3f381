"""Text mining: language, redaction, tokens, sentiment, themes, key phrases, intents."""
