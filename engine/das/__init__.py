"""Decoding of Database Activity Stream records: envelope, data keys, ESDK decrypt, encoder."""
