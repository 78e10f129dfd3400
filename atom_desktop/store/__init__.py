"""The encrypted local store: SQLCipher engine, models, repositories, migrations."""
