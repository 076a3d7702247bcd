"""valle.train"""
