"""Curation: ingest public text, remove duplicates and personal-information sites, export.

``core`` is plain Python (no Django): readers, normalisation, MinHash/LSH, detectors,
export. The Django app around it stores documents and runs, and shows them to managers.
"""
