"""ISAC domain: OFDM radar tensor parameter estimation (PLAIN, refinement, CRB).

No Prefect import here: the flow lives in ``pipelines/isac.py``.
"""
